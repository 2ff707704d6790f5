// Package tensormap describes the two-dimensional tiled tensor maps that
// Hopper's tensor memory accelerator copies through (cp.async.bulk.tensor):
// what cuTensorMapEncodeTiled is given, checked by the rules the driver
// enforces, so that a map the device would refuse is an error on the host
// with the field that is wrong.
//
// On a device the driver encodes a Map2D into its own opaque 128 bytes. The
// PTX simulator and the stand-in driver of the CI read the layout of
// Encode instead, which holds the same fields.
package tensormap
