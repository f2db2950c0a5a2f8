// Package apiext names Berth's extensions of the Docker Engine API. Only
// berth's own CLI asks for them, a Docker client never meets them, and the
// CLI does without them against another engine.
//
// Attached exec in one round trip: `docker exec` creates an exec (POST
// /containers/{id}/exec), starts it on a second connection (POST
// /exec/{id}/start, upgraded to a raw stream) and, once the output ended,
// asks for its exit code (GET /exec/{id}/json). With ExecAttachHeader on the
// create, sent as an upgrade (Connection: Upgrade, Upgrade: tcp), berthd
// creates the exec and streams it on that connection at once, answering 101
// with the exec's id in ExecIDHeader. Without a TTY the multiplexed stream
// then ends with an exit frame (announced by ExitFrameHeader): a stream
// header of type ExitStream and a 4-byte payload, the exit code as a
// big-endian int32, sent after the last output once the process has exited.
// A daemon without the extension answers the create as usual (201 and the
// id), and the client goes on with the start; a stream without an exit frame
// (a TTY, a daemon that stopped waiting) leaves the client to inspect.
package apiext

const (
	// ExecAttachHeader = "1" asks for the start with the create.
	ExecAttachHeader = "Berth-Exec-Attach"
	// ExecIDHeader carries the created exec's id in the 101 answer.
	ExecIDHeader = "Berth-Exec-Id"
	// ExitFrameHeader = "1" in the 101 answer: the stream ends with an exit
	// frame.
	ExitFrameHeader = "Berth-Exit-Frame"
	// ExitStream is the exit frame's stream type (stdin, stdout, stderr and
	// the daemon's errors are 0 to 3).
	ExitStream byte = 0x7f
)
