package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Do sends a request with body (none when empty) to url, with token as a bearer token when it
// is not empty, and returns the status and the whole response body; a request that gets no
// response fails the test.
func Do(t testing.TB, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
