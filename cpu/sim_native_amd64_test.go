//go:build amd64 && !purego

package cpu

import "slices"

// nativeSet returns kernel set name if this CPU runs it, else nil.
func nativeSet(name string) *vecKernels {
	for _, k := range builtVariants() {
		if k.name == name && slices.Contains(vecVariants(), k) {
			return k
		}
	}
	return nil
}
