// Package hostile holds the hostile-input suite: tests that attack a real
// vaultdrop server the way an outsider would. Each test builds and runs the
// vaultdrop binary on loopback, with users and tokens made by its own CLI,
// and sends crafted requests through the public HTTP API, the browser
// routes and, where needed, a real clamd. docs/security.md lists the attack
// kinds, the policies they pin and what each test covers.
//
// The package has no code outside its tests.
package hostile
