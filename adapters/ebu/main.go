// The adapter for ebu's `state` package (github.com/jilio/ebu, Go): its Materializer behind the
// adapter protocol as a `materialize` implementation. Build and run with install.sh, run.sh.
//
// Every item of a batch is handed to Materializer.Apply as a stored event of a foreign type,
// the route ebu documents for streams written by other State Protocol implementations, with
// the batch's offset; the committed offset is ebu's LastOffset. The materializer is made with
// ApplySkip (a decode failure is reported and skipped, reading goes on, as a consumer of the
// protocol does) and, when the case declares collections, WithStrictSchema (other types are
// refused).
//
// What the adapter supplies, because ebu has no notion of it:
//   - collections: ebu applies changes only to types registered with it. With declared
//     collections the adapter registers those; without, every type is expected, so it
//     registers each type as it first appears, before the item is applied.
//   - rejections: ebu reports some refusals (WithOnError) and skips what it takes for a foreign
//     event without a word. The adapter reports an item rejected when ebu reported an error
//     for it, or when ebu neither wrote to the store (the store is the adapter's, so it sees
//     every write) nor called its reset or snapshot callback for it: ebu left it unapplied.
//   - seen txids: a change's txid, when ebu applied the change (it wrote to or deleted from the
//     store: the store is the adapter's, so it sees every write), cleared on ebu's reset
//     callback (WithOnReset).
//   - halted: never.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	eventbus "github.com/jilio/ebu"
	"github.com/jilio/ebu/state"
)

// recordingStore is ebu's MemoryStore with a count of the writes ebu makes to it.
type recordingStore struct {
	*state.MemoryStore[json.RawMessage]
	mu     sync.Mutex
	writes int
}

func (s *recordingStore) Set(key string, value json.RawMessage) error {
	s.count()
	return s.MemoryStore.Set(key, value)
}

func (s *recordingStore) Delete(key string) error {
	s.count()
	return s.MemoryStore.Delete(key)
}

func (s *recordingStore) count() {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
}

func (s *recordingStore) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

type session struct {
	m        *state.Materializer
	store    *recordingStore
	declared bool
	types    map[string]bool
	txids    map[string]bool
	lastErr  error
	// Whether ebu called its reset or snapshot callback for the item being applied.
	controlled bool
}

type collection struct {
	Type string `json:"type"`
}

type command struct {
	Cmd         string            `json:"cmd"`
	Collections []collection      `json:"collections"`
	Items       []json.RawMessage `json:"items"`
	Offset      *string           `json:"offset"`
}

func open(cmd command) *session {
	s := &session{
		store:    &recordingStore{MemoryStore: state.NewMemoryStore[json.RawMessage]()},
		declared: cmd.Collections != nil,
		types:    map[string]bool{},
		txids:    map[string]bool{},
	}
	opts := []state.MaterializerOption{
		state.WithApplyErrorPolicy(state.ApplySkip),
		state.WithOnError(func(err error) { s.lastErr = err }),
		state.WithOnReset(func() { s.txids = map[string]bool{}; s.controlled = true }),
		state.WithOnSnapshot(func(bool) { s.controlled = true }),
	}
	if s.declared {
		opts = append(opts, state.WithStrictSchema())
	}
	s.m = state.NewMaterializer(opts...)
	for _, c := range cmd.Collections {
		s.register(c.Type)
	}
	return s
}

func (s *session) register(entityType string) {
	if s.types[entityType] {
		return
	}
	s.types[entityType] = true
	state.RegisterCollection(s.m, state.NewTypedCollectionWithType[json.RawMessage](s.store, entityType))
}

// change is what the adapter reads of an item for itself: its type (to register it) and txid.
type change struct {
	Type    *string `json:"type"`
	Headers struct {
		Operation *string `json:"operation"`
		TxID      *string `json:"txid"`
	} `json:"headers"`
}

func (s *session) apply(cmd command) []map[string]any {
	rejected := []map[string]any{}
	offset := ""
	if cmd.Offset != nil {
		offset = *cmd.Offset
	}
	for index, item := range cmd.Items {
		var c change
		isChange := json.Unmarshal(item, &c) == nil && c.Headers.Operation != nil
		if isChange && !s.declared && c.Type != nil && *c.Type != "" {
			s.register(*c.Type)
		}
		s.lastErr, s.controlled = nil, false
		before := s.store.written()
		err := s.m.Apply(&eventbus.StoredEvent{Type: "durable-stream", Data: item, Offset: eventbus.Offset(offset)})
		if err == nil {
			err = s.lastErr
		}
		if err != nil {
			rejected = append(rejected, map[string]any{"index": index, "reason": err.Error()})
			continue
		}
		wrote := s.store.written() > before
		if !wrote && !s.controlled {
			rejected = append(rejected, map[string]any{"index": index, "reason": "skipped without an error: ebu took it for a foreign event"})
			continue
		}
		if isChange && c.Headers.TxID != nil && wrote {
			s.txids[*c.Headers.TxID] = true
		}
	}
	return rejected
}

// decodeKey splits ebu's composite key (type and key, each with `%` and `/` escaped).
func decodeKey(composite string) (string, string) {
	unescape := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "%2F", "/"), "%25", "%")
	}
	entityType, key, _ := strings.Cut(composite, "/")
	return unescape(entityType), unescape(key)
}

func (s *session) state() (map[string]any, error) {
	all, err := s.store.All()
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]json.RawMessage{}
	for composite, value := range all {
		entityType, key := decodeKey(composite)
		if out[entityType] == nil {
			out[entityType] = map[string]json.RawMessage{}
		}
		out[entityType][key] = value
	}
	txids := make([]string, 0, len(s.txids))
	for t := range s.txids {
		txids = append(txids, t)
	}
	sort.Strings(txids)
	var offset any
	if last := s.m.LastOffset(); last != "" {
		offset = string(last)
	}
	return map[string]any{"state": out, "txids": txids, "offset": offset, "halted": false}, nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 256<<20)
	out := json.NewEncoder(os.Stdout)
	var s *session
	for in.Scan() {
		var cmd command
		answer := map[string]any{"ok": true}
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			answer = map[string]any{"ok": false, "error": err.Error()}
		}
		answer["cmd"] = cmd.Cmd
		switch cmd.Cmd {
		case "hello":
			answer["protocol"] = 1
			answer["implementation"] = map[string]string{"name": "github.com/jilio/ebu/state", "version": "34ccaa5"}
			answer["capabilities"] = []string{"materialize"}
			answer["profiles"] = []string{"spec-1.0"}
		case "open":
			s = open(cmd)
		case "apply":
			answer["rejected"] = s.apply(cmd)
		case "state":
			st, err := s.state()
			if err != nil {
				answer = map[string]any{"cmd": cmd.Cmd, "ok": false, "error": err.Error()}
				break
			}
			for k, v := range st {
				answer[k] = v
			}
		case "bye":
		default:
			answer = map[string]any{"cmd": cmd.Cmd, "ok": false, "error": fmt.Sprintf("not supported by this adapter: %s", cmd.Cmd)}
		}
		if err := out.Encode(answer); err != nil {
			os.Exit(1)
		}
		if cmd.Cmd == "bye" {
			return
		}
	}
}
