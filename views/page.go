// Package views renders vaultdrop's pages with templ. Components take plain
// structs and do no I/O; templ escapes every value, so names and other user
// text are always shown as text.
package views

// Page is what every page's layout needs.
type Page struct {
	Title  string
	Nav    string // the current section: "files", "admin"; "" for none
	User   *User  // nil when signed out
	Banner string // a warning shown above every page, such as a missing scanner
}

// User is the signed-in account as the layout shows it.
type User struct {
	Name    string
	IsAdmin bool
}
