package nb

import "gorgonia.org/gorgonia"

// The notebooks' interpreter cannot spread a slice of *gorgonia.Node into a
// compiled variadic call (gorgonia.Grad(cost, nodes...)): it fails with
// "CallSlice using []xreflect.Forward as type []*gorgonia.Node". These take
// the nodes as one gorgonia.Nodes value instead.

// Grad is gorgonia.Grad(cost, wrt...).
func Grad(cost *gorgonia.Node, wrt gorgonia.Nodes) (gorgonia.Nodes, error) {
	return gorgonia.Grad(cost, wrt...)
}

// BindDualValues is gorgonia.BindDualValues(nodes...), the VM option that
// keeps the gradients of nodes for a solver.
func BindDualValues(nodes gorgonia.Nodes) gorgonia.VMOpt {
	return gorgonia.BindDualValues(nodes...)
}
