package shim

import "time"

// SetRefillDelay sets how long p leaves its pool empty after the start of a
// container that goes when it stops, expecting its shim back.
func (p *Spares) SetRefillDelay(d time.Duration) {
	p.mu.Lock()
	p.refillDelay = d
	p.mu.Unlock()
}
