package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const abuseBoundary = "abuse-boundary"

// postForm posts a hand-built multipart body to the upload API as alice.
func (e *testEnv) postForm(body []byte) (*http.Response, []byte) {
	e.t.Helper()
	return e.request(http.MethodPost, "/api/v1/files", e.AliceToken, bytes.NewReader(body),
		http.Header{"Content-Type": {"multipart/form-data; boundary=" + abuseBoundary}})
}

// filePart is a well-formed file part that ends the form.
func filePart(name, content string) string {
	return fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\n\r\n%s\r\n--%s--\r\n",
		abuseBoundary, name, content, abuseBoundary)
}

func TestMultipartAbuseRefused(t *testing.T) {
	t.Parallel()
	var tinyParts strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&tinyParts, "--%s\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n", abuseBoundary, i)
	}
	tinyParts.WriteString(filePart("after.txt", "never reached\n"))

	var manyHeaders strings.Builder
	fmt.Fprintf(&manyHeaders, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n", abuseBoundary)
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&manyHeaders, "X-Padding-%d: %s\r\n", i, strings.Repeat("h", 40))
	}
	manyHeaders.WriteString("\r\nbody\r\n--" + abuseBoundary + "--\r\n")

	longHeader := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s.txt\"\r\n\r\nbody\r\n--%s--\r\n",
		abuseBoundary, strings.Repeat("n", 200<<10), abuseBoundary)

	preamble := strings.Repeat("preamble line before the first part\r\n", 30000) + filePart("a.txt", "body\n")

	cases := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"10000 tiny parts", tinyParts.String(), http.StatusBadRequest, "invalid_request"},
		{"20000 part headers", manyHeaders.String(), http.StatusRequestEntityTooLarge, "too_large"},
		{"200 KiB header line", longHeader, http.StatusRequestEntityTooLarge, "too_large"},
		{"1 MiB preamble", preamble, http.StatusRequestEntityTooLarge, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			before := e.snapshot()

			resp, body := e.postForm([]byte(tc.body))
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			assertErrorCode(t, body, tc.code)
			e.assertNothingStored(before)
		})
	}
}

func TestMultipartFormWithFieldsAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})

	var form strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&form, "--%s\r\nContent-Disposition: form-data; name=\"field%d\"\r\nContent-Type: text/plain\r\n\r\nvalue %d\r\n", abuseBoundary, i, i)
	}
	form.WriteString(filePart("fields.txt", "a file after fifty fields\n"))

	resp, body := e.postForm([]byte(form.String()))
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201: %s", resp.StatusCode, body)
	}
}
