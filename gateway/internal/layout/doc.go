// Package layout holds no code: its test checks that the repository's
// imports point one way (layout_test.go). It may import nothing.
package layout
