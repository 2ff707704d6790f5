//go:build !(openblas && cgo)

package main

func blasNote() string { return "" }
