// Package messages holds the protobuf messages exchanged between Troupe's
// gateways and actors. Every message between actors is a protobuf message so
// that actors can later be placed on other nodes of a cluster.
package messages

//go:generate protoc --go_out=. --go_opt=paths=source_relative data.proto control.proto
