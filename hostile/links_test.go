package hostile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// link is a share or drop link created through the API.
type link struct {
	ID    string
	Token string
	Path  string // "/s/TOKEN" or "/d/TOKEN"
}

// createShare creates a share link as alice from a JSON body and fails the
// test unless the server responds with 201.
func (s *server) createShare(t *testing.T, body string) link {
	t.Helper()
	return s.createLink(t, "/api/v1/shares", "/s/", body)
}

// createDrop creates a drop link as alice.
func (s *server) createDrop(t *testing.T, body string) link {
	t.Helper()
	return s.createLink(t, "/api/v1/drops", "/d/", body)
}

func (s *server) createLink(t *testing.T, route, prefix, body string) link {
	t.Helper()
	resp := s.do(t, request{Method: http.MethodPost, Path: route, Token: aliceToken, Header: jsonBody, Body: strings.NewReader(body)})
	if resp.Status != http.StatusCreated {
		t.Fatalf("POST %s %s: status %d, want 201: %.300s", route, body, resp.Status, resp.Body)
	}
	var created struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(resp.Body, &created); err != nil {
		t.Fatalf("POST %s: %v", route, err)
	}
	_, token, ok := strings.Cut(created.URL, prefix)
	if !ok || token == "" {
		t.Fatalf("POST %s: url %q has no %s token", route, created.URL, prefix)
	}
	token, _, _ = strings.Cut(token, "/")
	token, _, _ = strings.Cut(token, "?")
	return link{ID: created.ID, Token: token, Path: prefix + token}
}

// shareFiles returns the JSON body that shares the given files.
func shareFiles(ids ...string) string {
	quoted, _ := json.Marshal(ids)
	return fmt.Sprintf(`{"file_ids":%s}`, quoted)
}

// dropUpload posts one file to a drop link as an anonymous script.
func (s *server) dropUpload(t *testing.T, d link, name string, content []byte, header http.Header) response {
	t.Helper()
	h := http.Header{"Accept": {"application/json"}}
	for key, values := range multipartHeader {
		h[key] = values
	}
	for key, values := range header {
		h[key] = values
	}
	return s.do(t, request{
		Method: http.MethodPost, Path: d.Path + "/files", Header: h,
		Body: bytes.NewReader(multipartFile(name, content)),
	})
}

// tusHeader is the protocol header every resumable upload request sends.
var tusHeader = http.Header{"Tus-Resumable": {"1.0.0"}}

// tusCreate starts a resumable upload as alice with name in its metadata
// and returns the response. Its Location is the upload's URL.
func (s *server) tusCreate(t *testing.T, name string, length int64) response {
	t.Helper()
	h := http.Header{
		"Tus-Resumable":   {"1.0.0"},
		"Upload-Length":   {fmt.Sprint(length)},
		"Upload-Metadata": {"filename " + base64.StdEncoding.EncodeToString([]byte(name))},
	}
	return s.do(t, request{Method: http.MethodPost, Path: "/api/v1/uploads/", Token: aliceToken, Header: h})
}

// tusPath returns the request path of a created upload's Location.
func (s *server) tusPath(t *testing.T, created response) string {
	t.Helper()
	location := created.Header.Get("Location")
	if location == "" {
		t.Fatalf("resumable upload: status %d and no Location: %.300s", created.Status, created.Body)
	}
	return strings.TrimPrefix(location, s.URL)
}

// tusPatch sends data at offset to the upload at path, as alice.
func (s *server) tusPatch(t *testing.T, path string, offset int64, data []byte) response {
	t.Helper()
	h := http.Header{
		"Tus-Resumable": {"1.0.0"},
		"Upload-Offset": {fmt.Sprint(offset)},
		"Content-Type":  {"application/offset+octet-stream"},
	}
	return s.do(t, request{Method: http.MethodPatch, Path: path, Token: aliceToken, Header: h, Body: bytes.NewReader(data)})
}

// fileNamed returns alice's file with the given name.
func (s *server) fileNamed(t *testing.T, name string) (fileObject, bool) {
	t.Helper()
	for _, f := range s.listFiles(t, aliceToken) {
		if f.Name == name {
			return f, true
		}
	}
	return fileObject{}, false
}
