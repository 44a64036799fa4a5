// Package messages holds the protobuf messages exchanged between Troupe's
// gateways and actors. Every message between actors is a protobuf message so
// that actors can later be placed on other nodes of a cluster.
package messages

// messaging.proto refers to actor.PID, so protoc also reads protoactor's
// actor.proto from the module cache.
//go:generate sh -c "protoc -I . -I $(go list -m -f '{{.Dir}}' github.com/asynkron/protoactor-go)/actor --go_out=. --go_opt=paths=source_relative *.proto"
