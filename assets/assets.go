// Package assets embeds the stylesheet, scripts and icons, and names each by
// a content fingerprint so browsers may cache them for a year.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// Prefix is the URL path the assets are served under.
const Prefix = "/assets/"

var fingerprints = computeFingerprints()

func computeFingerprints() map[string]string {
	sums := map[string]string{}
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		sums[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return sums
}

// URL returns the cache-busting URL of an embedded asset, such as
// /assets/app.css?v=3f2a9c01b7de.
func URL(name string) string {
	return Prefix + name + "?v=" + fingerprints[name]
}

// FS returns the embedded files, rooted so that "app.css" is the stylesheet.
// embed.FS refuses ".." and absolute names, so no request reaches outside.
func FS() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // "static" is embedded above
	}
	return sub
}

// Handler serves the embedded assets under Prefix. A request whose ?v=
// matches the file's fingerprint is cached for a year; others briefly.
func Handler() http.Handler {
	files := http.FileServerFS(FS())
	return http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		sum, ok := fingerprints[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == sum {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	}))
}
