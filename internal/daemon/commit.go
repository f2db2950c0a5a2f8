package daemon

import (
	"context"

	"github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/image"
)

// CreateImage records a committed container's image (container.ImageCreator).
func (a imagesForContainers) CreateImage(ctx context.Context, img container.NewImage) (string, error) {
	id, err := a.images.Create(ctx, image.CreateOptions{
		Parent:    img.Parent,
		Layer:     img.Layer,
		Config:    img.Config,
		Changes:   img.Changes,
		Defaults:  img.Defaults,
		CreatedBy: img.CreatedBy,
		Comment:   img.Comment,
		Author:    img.Author,
		Tags:      img.Tags,
	})
	return id.String(), err
}
