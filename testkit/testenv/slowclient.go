package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ErrStillOpen is SlowPost's error when the server kept the connection past the give-up time.
var ErrStillOpen = errors.New("still open")

// SlowPost plays the slow client a server must not let hold it: on c it sends a POST header for
// path announcing a body of n bytes (extra: more header lines, each ending in "\r\n"), then
// trickles the body a byte every interval until the server closes c. It returns how long c
// stayed open, and ErrStillOpen when that reached giveUp.
func SlowPost(c net.Conn, path, extra string, n int, interval, giveUp time.Duration) (time.Duration, error) {
	start := time.Now()
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: segstream\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", path, extra, n); err != nil {
		return 0, fmt.Errorf("writing the header: %w", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = c.SetReadDeadline(start.Add(giveUp))
	_, err := io.Copy(io.Discard, c) // until the server closes: EOF (nil here) or a reset
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return time.Since(start), fmt.Errorf("%w after %s", ErrStillOpen, giveUp)
	}
	return time.Since(start), nil
}
