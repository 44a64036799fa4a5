package messages

// Error codes carried in DataReply.error_code (and, later, the other replies).
// The gateways map each code to their front door's status code.
const (
	CodeWrongType   = "WRONG_TYPE"     // the key holds another data type
	CodeNotInteger  = "NOT_AN_INTEGER" // incr on a value that is not an integer
	CodeNotFloat    = "NOT_A_NUMBER"   // zincrby/hincrby on a value that is not a number
	CodeOverflow    = "INTEGER_OVERFLOW"
	CodeOutOfRange  = "INDEX_OUT_OF_RANGE"
	CodeNoSuchKey   = "KEY_NOT_FOUND"
	CodeInvalid     = "INVALID_ARGUMENT" // valid JSON, invalid data (422)
	CodeMemoryLimit = "MEMORY_LIMIT_EXCEEDED"
	CodeKeyReserved = "KEY_BUSY" // another msetnx holds the key for a moment
	CodeUnavailable = "SERVICE_UNAVAILABLE"
	CodeStore       = "STORE_ERROR"
	CodeTimeout     = "TIMEOUT"
)

// Error codes of the messaging commands (queues and event-stream rooms).
const (
	CodeQueueNotFound   = "QUEUE_NOT_FOUND"
	CodeQueueFull       = "QUEUE_FULL"          // max_depth reached
	CodeMessageNotFound = "MESSAGE_NOT_FOUND"   // ack/nack of a message unknown or not in flight
	CodeOffsetTrimmed   = "OFFSET_OUT_OF_RANGE" // history read below the oldest kept offset
	CodeQueueExists     = "QUEUE_EXISTS"
	CodeNotFound        = "NOT_FOUND"      // a room or other named resource that does not exist
	CodeLimit           = "LIMIT_EXCEEDED" // too many queues, rooms or subscriptions (a flag sets it)
)

// Error codes of the sequence hub (sequences, instances, topics), beside
// CodeNotFound, CodeInvalid, CodeLimit, CodeUnavailable and CodeStore.
const (
	CodePackageRefused = "PACKAGE_REFUSED"          // an uploaded package the hub cannot run; the message says why (422)
	CodeSequenceInUse  = "SEQUENCE_IN_USE"          // delete or update of a sequence with instances running (409)
	CodeInstanceExists = "INSTANCE_EXISTS"          // a start with an instanceId in use (409)
	CodeNotRunning     = "INSTANCE_NOT_RUNNING"     // stop or kill of an ended instance (400)
	CodeInputElsewhere = "INPUT_PROVIDED_ELSEWHERE" // /input of an instance that reads a topic (406)
	CodeNoContentType  = "CONTENT_TYPE_REQUIRED"    // the first /input without a Content-Type (406)
	CodeInputEnded     = "INPUT_ENDED"              // /input or /stdin after the stream ended (409)
	CodeContentType    = "UNSUPPORTED_MEDIA_TYPE"   // a topic's content type other than the topic's (415)
	CodeTopicExists    = "TOPIC_EXISTS"             // POST /topics of a topic that exists (400)
)

// Error codes of the views service (Sp00ky SSP), beside CodeInvalid,
// CodeNotFound, CodeLimit, CodeUnavailable and CodeTimeout.
const (
	CodeSSPNotReady    = "SSP_NOT_READY"   // the views are being rebuilt or bootstrapped (503), as the original SSP answers
	CodeBootstrapStale = "BOOTSTRAP_STALE" // a bootstrap message of a bootstrap that is no longer the one in progress
)
