//go:build tools

// The gophernotes kernel is built from this module (scripts/gophernotes-kernel.sh),
// so that every package shared by the kernel and the notebooks' imports is at
// one version.
package notebooks

import _ "github.com/gopherdata/gophernotes"
