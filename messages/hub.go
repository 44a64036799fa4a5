package messages

// The engines a sequence runs on (SequenceRecord.engine).
const (
	EngineNode   = "node"
	EnginePython = "python3"
)

// TopicContentTypes are the content types a topic carries
// (TopicCreate.content_type); DefaultTopicContentType is a topic's when
// its producer names none.
var TopicContentTypes = []string{"text/x-ndjson", "application/x-ndjson", "text/plain", "application/octet-stream"}

const DefaultTopicContentType = "application/x-ndjson"
