package features

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The dedup window's own key.
//
// A customer's dedup window (State.Recent) holds the hashes of her last Config.DedupWindow event
// ids, 8 bytes each: 8 KB once she has a thousand events, most of her state. Every event
// rewrites her state whole, so an old customer's window was most of what ingest encoded and
// Redis copied per event (BenchmarkApplyBatchHistory, docs/operations.md). Now a state keeps at
// most windowInline ids in its own blob. Past that, the window goes to a key of its own, the
// window key (WindowKey: same hash tag, so the same slot), written whole only when the blob's
// share would pass windowInline ids: once in windowInline events, not once an event. The
// compare-and-set script writes it with the state, under the same header check, so the two
// never disagree in Redis.
//
// The blob then says which of the window key's ids are in the window, in-band: its dedup window
// section starts with three entries, windowMarker, a count word (the window key's ids, and how
// many of its newest are in the window) and the window key's newest id (its stamp: the key must
// end with it), followed by the ids not in the window key. A release before this one reads those
// three entries as three more event ids, applies events, and writes the
// section back whole with its new ids after them: still a valid marked section, the window key
// untouched. So a rolling upgrade loses nothing; until it is over, an older ingest's dedup
// window is only the ids in the blob.
//
// A customer of at most windowInline ids (the bench's, a young customer base's) is encoded
// exactly as before and never has a window key.

// windowInline is how many dedup window ids a state keeps in its blob. A customer past it costs
// about 4 × windowInline bytes of blob per event on average and 8 × DedupWindow / windowInline
// bytes of window key: the two are equal near 45 at the default window of 1,024.
const windowInline = 64

// windowMarker starts a marked dedup window section. Event ids hash (hashID) to any value, so a
// real id equal to it at the front of an unmarked section is possible, at 2^-64 per state.
const windowMarker = 0x77696e646f776b79 // "windowky"

// windowHead is how many entries of a marked section are not ids: the marker, the count word and
// the stamp.
const windowHead = 3

// WindowKey is the key of a customer's dedup window when her state does not hold it all.
func WindowKey(prefix, customerID string) string { return prefix + ":{" + customerID + "}:w" }

// windowKeyOf is WindowKey from the state's key (Key). The scripts derive it the same way
// (windowKeyLua).
func windowKeyOf(stateKey string) string {
	return strings.TrimSuffix(stateKey, "f") + "w"
}

// windowKeyLua is windowKeyOf for the compare-and-set scripts.
const windowKeyLua = `local function windowkey(k) return string.sub(k, 1, -2) .. 'w' end
`

// windowPlan says how appendWindow encodes s's dedup window: inline (all of it in the blob, as
// before the window key), or marked, and then whether the window key must be written with it.
func (s *State) windowPlan(split bool) (inline, writeKey bool) {
	if !split || s.keyN == 0 && len(s.Recent) <= windowInline {
		return true, false
	}
	return false, s.keyN == 0 || s.tailN > windowInline || len(s.Recent) <= int(s.tailN)
}

// appendWindow appends the dedup window section of s's blob. With split, a window past
// windowInline ids goes to the window key: the section then holds the marker, the count word
// and the ids the window key does not. It reports whether the window key must be written with
// the blob (appendWindowKey), and records that it is.
func (s *State) appendWindow(dst []byte, split bool) (out []byte, writeKey bool) {
	inline, writeKey := s.windowPlan(split)
	if inline {
		dst = binary.AppendUvarint(dst, uint64(len(s.Recent)))
		for _, h := range s.Recent {
			dst = binary.LittleEndian.AppendUint64(dst, h)
		}
		return dst, false
	}
	if writeKey {
		s.keyN, s.tailN, s.keyStamp = int32(len(s.Recent)), 0, 0
		if len(s.Recent) > 0 {
			s.keyStamp = s.Recent[len(s.Recent)-1]
		}
	}
	keep := len(s.Recent) - int(s.tailN)
	dst = binary.AppendUvarint(dst, uint64(windowHead+int(s.tailN)))
	dst = binary.LittleEndian.AppendUint64(dst, windowMarker)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.keyN)<<32|uint64(keep))
	dst = binary.LittleEndian.AppendUint64(dst, s.keyStamp)
	for _, h := range s.Recent[keep:] {
		dst = binary.LittleEndian.AppendUint64(dst, h)
	}
	return dst, writeKey
}

// windowBytes is about what appendWindow with split appends, and appendWindowKey after it.
func (s *State) windowBytes() int {
	inline, writeKey := s.windowPlan(true)
	switch {
	case inline:
		return 8*len(s.Recent) + 8
	case writeKey:
		return 8*len(s.Recent) + 8*windowHead + 8
	}
	return 8*int(s.tailN) + 8*windowHead + 8
}

// appendWindowKey appends what the window key holds: every id of the dedup window, 8 bytes
// each, oldest first.
func (s *State) appendWindowKey(dst []byte) []byte {
	for _, h := range s.Recent {
		dst = binary.LittleEndian.AppendUint64(dst, h)
	}
	return dst
}

// splitWindow reads a marked section that Decode read into Recent: it takes the marker and the
// count word off and sets the bookkeeping. An unmarked section is all in the blob.
func (s *State) splitWindow() error {
	s.keyN, s.keyNeed, s.keyStamp = 0, 0, 0
	if len(s.Recent) >= windowHead && s.Recent[0] == windowMarker {
		n, keep := s.Recent[1]>>32, s.Recent[1]&(1<<32-1)
		if keep > n || n > 1<<20 {
			return fmt.Errorf("%w: dedup window of %d ids keeps %d", ErrCorruptState, n, keep)
		}
		s.keyStamp = s.Recent[2]
		s.Recent = append(s.Recent[:0], s.Recent[windowHead:]...)
		s.keyN, s.keyNeed = int32(n), int32(keep)
	}
	s.tailN = int32(len(s.Recent))
	return nil
}

// needsWindowKey says that s was decoded from a blob whose dedup window is partly in the window
// key: Recent lacks its oldest ids until attachWindow.
func (s *State) needsWindowKey() bool { return s.keyNeed > 0 }

// errWindowMismatch is a window key that is not the one its state names: missing, or written
// by a later state (read between the state and its window key), or damaged.
var errWindowMismatch = fmt.Errorf("%w: dedup window key does not match its state", ErrCorruptState)

// attachWindow puts the window key's ids that belong to the dedup window (key, as
// appendWindowKey wrote it) before the ids Decode put in Recent.
func (s *State) attachWindow(key []byte) error {
	if len(key) != 8*int(s.keyN) || binary.LittleEndian.Uint64(key[len(key)-8:]) != s.keyStamp {
		return errWindowMismatch
	}
	need, tail := int(s.keyNeed), len(s.Recent)
	s.Recent = append(s.Recent, make([]uint64, need)...)
	copy(s.Recent[need:], s.Recent[:tail])
	from := key[8*(int(s.keyN)-need):]
	for i := range need {
		s.Recent[i] = binary.LittleEndian.Uint64(from[8*i:])
	}
	s.keyNeed = 0
	return nil
}

// dropWindowKey gives up the window key's ids (it is missing or does not match the state): the
// window keeps the ids in the blob, and the next write writes the window key again.
func (s *State) dropWindowKey() {
	s.keyN, s.keyNeed = 0, 0
	s.tailN = int32(len(s.Recent))
}
