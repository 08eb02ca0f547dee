package scorer_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// rawConn is one keep-alive HTTP/1.1 connection of the load generator: it writes a GET and
// reads the answer by its Content-Length, as wrk does, with no per-request goroutines, header
// maps or body wrappers. net/http's client costs the generator about as much CPU per request
// as the server spends answering it, on the same two cores (docs/benchmarks.md);
// SEGSTREAM_LOADGEN_CLIENT=nethttp uses it instead, to compare.
type rawConn struct {
	c    net.Conn
	r    *bufio.Reader
	host string
	req  []byte
}

func dialRaw(base string) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 16<<10), host: u.Host}, nil
}

var contentLength = []byte("content-length:")

// get requests path and reads the whole answer, returning its status.
func (rc *rawConn) get(path string) (int, error) {
	rc.req = append(rc.req[:0], "GET "...)
	rc.req = append(rc.req, path...)
	rc.req = append(rc.req, " HTTP/1.1\r\nHost: "...)
	rc.req = append(rc.req, rc.host...)
	rc.req = append(rc.req, "\r\n\r\n"...)
	if _, err := rc.c.Write(rc.req); err != nil {
		return 0, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		line, err = rc.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):]))); err != nil {
				return 0, fmt.Errorf("header %q", line)
			}
		}
	}
	if n < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	_, err = rc.r.Discard(n)
	return status, err
}

func (rc *rawConn) Close() error { return rc.c.Close() }
