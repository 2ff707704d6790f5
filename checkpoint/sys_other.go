//go:build !unix

package checkpoint

const openNoBlock = 0
