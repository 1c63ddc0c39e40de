// Package logs builds the process's slog logger the way Lambda's advanced logging controls ask
// (SPEC §12): JSON lines unless AWS_LAMBDA_LOG_FORMAT is "Text", at the level of
// AWS_LAMBDA_LOG_LEVEL. It never decides what is logged; callers never log secrets.
package logs

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in Lambda's format ("Text", else JSON: AWS_LAMBDA_LOG_FORMAT)
// at Lambda's level name (AWS_LAMBDA_LOG_LEVEL, see Level).
func New(w io.Writer, format, level string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: Level(level)}
	if strings.EqualFold(format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Level maps Lambda's level names (TRACE, DEBUG, INFO, WARN, ERROR, FATAL) to slog levels;
// anything else is INFO.
func Level(name string) slog.Level {
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}
