package filetype

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"slices"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// maxExtensionLength is the maximum length of the extension in an allow or
// deny entry.
const maxExtensionLength = 32

// Policy is an allowlist of file extensions and the media types that content
// sniffing may report for each. It is read-only after NewPolicy, so one
// Policy may serve concurrent uploads.
type Policy struct {
	allowed map[string][]string // extension -> accepted media types
}

// NewPolicy returns the default allowlist changed by the operator's allow
// and deny entries, which are applied in that order, so a deny entry wins.
//
// An allow entry is an extension ("svg", ".svg") or an extension and a
// media type ("svg:image/svg+xml"). An extension alone changes nothing for
// an extension that is already allowed. For a rejected-by-default type with
// known media types, such as svg, html, xml, js or exe, it adds the
// extension with those types. Any other extension needs a media type. An
// entry with a media type adds that type to the extension and creates the
// extension if needed, and repeating the entry adds several types. The
// media type must be one that mimetype can report, because no other type
// could ever match.
//
// A deny entry is an extension alone, and removes it. Denying an extension
// that is not allowed changes nothing.
//
// Extensions that a browser or converter would run (HTML, SVG, XML,
// scripts, programs) may be allowed. Their files are then stored and served
// as application/octet-stream, as CheckContent describes.
//
// The error names the first invalid entry and how to write it.
func NewPolicy(allow, deny []string) (*Policy, error) {
	p := &Policy{allowed: make(map[string][]string, len(defaultAllowlist))}
	for ext, types := range defaultAllowlist {
		p.allowed[ext] = slices.Clone(types)
	}

	for _, entry := range allow {
		if err := p.applyAllow(entry); err != nil {
			return nil, err
		}
	}

	for _, entry := range deny {
		if err := p.applyDeny(entry); err != nil {
			return nil, err
		}
	}

	return p, nil
}

func (p *Policy) applyAllow(entry string) error {
	extPart, typePart, hasType := strings.Cut(strings.TrimSpace(entry), ":")

	ext, err := parseExtension(extPart)
	if err != nil {
		return fmt.Errorf("invalid allow entry %q: %s", entry, err)
	}

	if !hasType {
		return p.allowExtension(entry, ext)
	}

	mediaType, err := parseMediaType(typePart)
	if err != nil {
		return fmt.Errorf("invalid allow entry %q: %s", entry, err)
	}

	if !slices.Contains(p.allowed[ext], mediaType) {
		p.allowed[ext] = append(p.allowed[ext], mediaType)
	}

	return nil
}

// allowExtension handles an allow entry without a media type.
func (p *Policy) allowExtension(entry, ext string) error {
	if _, ok := p.allowed[ext]; ok {
		return nil
	}

	types, ok := optionalAllowlist[ext]
	if !ok {
		return fmt.Errorf("invalid allow entry %q: .%s has no default media type; add the type its files sniff as, such as %s:application/octet-stream", entry, ext, ext)
	}

	p.allowed[ext] = slices.Clone(types)

	return nil
}

func (p *Policy) applyDeny(entry string) error {
	extPart := strings.TrimSpace(entry)
	if strings.Contains(extPart, ":") {
		return fmt.Errorf("invalid deny entry %q: give an extension only, such as exe", entry)
	}

	ext, err := parseExtension(extPart)
	if err != nil {
		return fmt.Errorf("invalid deny entry %q: %s", entry, err)
	}

	delete(p.allowed, ext)

	return nil
}

// parseExtension returns s without a leading dot and lower-cased, or an
// error message when it is not an extension.
func parseExtension(s string) (string, error) {
	ext := normalizeExtension(strings.TrimSpace(s))

	switch {
	case ext == "":
		return "", errors.New("the extension is missing; write it as svg or svg:image/svg+xml")
	case len(ext) > maxExtensionLength:
		return "", fmt.Errorf("the extension is longer than %d characters", maxExtensionLength)
	case strings.Contains(ext, "."):
		return "", errors.New("only the final extension counts, so write gz rather than tar.gz")
	}

	for _, r := range ext {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '+') {
			return "", errors.New("the extension may contain only letters, digits, '_', '-' and '+'")
		}
	}

	return ext, nil
}

// parseMediaType returns the canonical mimetype name of s, or an error
// message when s is not a type that content sniffing can report.
func parseMediaType(s string) (string, error) {
	mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(s))
	top, subtype, hasSlash := strings.Cut(mediaType, "/")
	if err != nil || !hasSlash || top == "" || subtype == "" {
		return "", fmt.Errorf("%q is not a media type such as image/svg+xml", s)
	}
	if len(params) > 0 {
		return "", errors.New("give the media type without parameters, as in text/plain")
	}

	known := mimetype.Lookup(mediaType)
	if known == nil {
		return "", fmt.Errorf("content sniffing never reports %s, so no file would match; use a type that mimetype detects, or application/octet-stream for any unrecognised content", mediaType)
	}

	// Lookup also finds aliases, such as application/x-zip for
	// application/zip; keep the name that detection returns.
	return known.String(), nil
}

// Extensions returns the allowed extensions, sorted, without dots.
func (p *Policy) Extensions() []string {
	return slices.Sorted(maps.Keys(p.allowed))
}

// CheckName returns nil when the final extension of name is allowed and no
// inner extension is an executable or server-script type that the policy
// does not allow. Otherwise it returns an *Error with CodeNotAllowed.
//
// name should be the output of filename.Sanitize. Extensions are compared
// case-insensitively, so "photo.JPG" passes and "x.pHp" does not. A name
// without an extension, or that is only an extension such as ".jpg", is
// not allowed, because it names no type for its content to match. The inner
// check rejects "invoice.php.jpg" and "run.exe.pdf" but accepts
// "shell.php%00.jpg", whose inner part "php%00" is no extension that any
// server maps to a handler.
func (p *Policy) CheckName(name string) error {
	ext := Extension(name)
	if ext == "" {
		return &Error{
			Code:    CodeNotAllowed,
			Message: "file name has no extension after its name, so its type cannot be checked; name the file like report.pdf or photo.jpg and upload it again",
		}
	}

	if _, ok := p.allowed[ext]; !ok {
		return notAllowed(ext)
	}

	for _, inner := range innerExtensions(name) {
		if p.rejectsInnerExtension(inner) {
			return &Error{
				Code:      CodeNotAllowed,
				Extension: inner,
				Message:   fmt.Sprintf("file name contains %s, an executable or script extension, before its final extension %s; remove %s from the name and upload the file again", displayExtension(inner), displayExtension(ext), displayExtension(inner)),
			}
		}
	}

	return nil
}

func (p *Policy) rejectsInnerExtension(ext string) bool {
	if !executableExtensions[ext] || innerExemptExtensions[ext] {
		return false
	}
	_, allowed := p.allowed[ext]
	return !allowed
}

func notAllowed(ext string) *Error {
	return &Error{
		Code:      CodeNotAllowed,
		Extension: ext,
		Message:   fmt.Sprintf("file extension %s is not allowed; upload a document, image, audio, video or archive file, or ask the operator to allow %s", displayExtension(ext), displayExtension(ext)),
	}
}
