package action

// Value is a typed value that a trigger reads from its event for the action's handler: a query
// parameter, a chat word's arguments, a direct invocation's field. Declared beside the handler
// that reads it, it adds nothing to Request.
type Value[T any] struct{ key *byte }

// NewValue returns a Value of its own.
func NewValue[T any]() Value[T] { return Value[T]{key: new(byte)} }

// Set stores x on req.
func (v Value[T]) Set(req *Request, x T) {
	if req.values == nil {
		req.values = map[*byte]any{}
	}
	req.values[v.key] = x
}

// Get returns what Set stored on req, or the zero T and false.
func (v Value[T]) Get(req *Request) (T, bool) {
	x, ok := req.values[v.key].(T)
	return x, ok
}
