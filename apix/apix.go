// Package apix is the one JSON shape of every segstream HTTP endpoint (the scorer's read API and
// the retrainer's): a value, or {"error": {"code": ..., "message": ...}} whose code is stable for
// a client to branch on and whose message says what to do.
package apix

import (
	"encoding/json"
	"net/http"
)

// Error is the body of every error answer.
type Error struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError answers status with an Error.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	var e Error
	e.Error.Code, e.Error.Message = code, msg
	WriteJSON(w, status, e)
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
