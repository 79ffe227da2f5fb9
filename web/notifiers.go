package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"vigil/events"
	"vigil/streams"
)

// Notifiers is the notifier engine as the API uses it (*events.Notifiers).
// Every name it is handed has passed validNotifierName.
type Notifiers interface {
	Put(def events.Notifier) (created bool, err error)
	Get(name string) (events.Notifier, events.Status, error)
	List() []events.NotifierView
	Delete(name string) error
	Test(ctx context.Context, name string) error
}

// notifierTestTimeout bounds a test delivery.
const notifierTestTimeout = 30 * time.Second

func (s *Server) routeNotifiers(mux *http.ServeMux) {
	if s.cfg.Notifiers == nil {
		return
	}
	n := &notifierRoutes{n: s.cfg.Notifiers}
	mux.HandleFunc("GET /api/v1/notifiers", n.list)
	mux.HandleFunc("GET /api/v1/notifiers/{name}", n.get)
	mux.HandleFunc("PUT /api/v1/notifiers/{name}", n.put)
	mux.HandleFunc("DELETE /api/v1/notifiers/{name}", n.delete)
	mux.HandleFunc("POST /api/v1/notifiers/{name}/test", n.test)
	noRoute := func(w http.ResponseWriter, r *http.Request) {
		if _, ok := notifierName(w, r); ok {
			writeError(w, http.StatusNotFound, "not_found", "no such API route: "+r.Method+" "+r.URL.Path)
		}
	}
	mux.HandleFunc("/api/v1/notifiers/{name}", noRoute)
	mux.HandleFunc("/api/v1/notifiers/{name}/{rest...}", noRoute)
}

type notifierRoutes struct{ n Notifiers }

// notifierErrors maps the engine's sentinels to a status and code; a
// *events.FieldError is answered by notifierErr.
var notifierErrors = []errorCode{
	{events.ErrNotifierNotFound, http.StatusNotFound, "notifier_not_found"},
}

// notifierErr answers an error from the engine: a field error is the
// caller's (400 naming the field), a missing notifier 404.
func notifierErr(w http.ResponseWriter, err error) {
	var fe *events.FieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, "invalid_field", err.Error())
		return
	}
	if !writeMapped(w, err, notifierErrors) {
		writeErr(w, err)
	}
}

// notifierName validates the {name} path value (the rules of stream
// names); it writes the error response and returns false when that fails.
func notifierName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if err := streams.ValidateName(name); err != nil {
		msg := strings.Replace(err.Error(), "stream name", "notifier name", 1)
		writeError(w, http.StatusBadRequest, "invalid_name", msg)
		return "", false
	}
	return name, true
}

// redacted is v as JSON with every secret masked, whatever the engine
// left in: the API shows that a webhook secret or an SMTP password is set,
// never what it is.
func redacted(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	mask(m, "secret")
	if e, ok := m["email"].(map[string]any); ok {
		mask(e, "password")
	}
	return m, nil
}

func mask(m map[string]any, key string) {
	if s, _ := m[key].(string); s != "" {
		m[key] = redactedSecret
	}
}

// redactedSecret is what the API shows for a secret that is set (as the
// engine's Notifier.Redacted does).
const redactedSecret = "********"

// notifierView is a notifier and its status as the API shows it.
func notifierView(def events.Notifier, st events.Status) (map[string]any, error) {
	m, err := redacted(def)
	if err != nil {
		return nil, err
	}
	m["name"] = def.Name
	m["status"] = st
	return m, nil
}

func (n *notifierRoutes) list(w http.ResponseWriter, r *http.Request) {
	list := n.n.List()
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		m, err := redacted(v)
		if err != nil {
			writeErr(w, err)
			return
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifiers": out})
}

func (n *notifierRoutes) get(w http.ResponseWriter, r *http.Request) {
	name, ok := notifierName(w, r)
	if !ok {
		return
	}
	def, st, err := n.n.Get(name)
	if err != nil {
		notifierErr(w, err)
		return
	}
	n.write(w, http.StatusOK, def, st)
}

func (n *notifierRoutes) write(w http.ResponseWriter, status int, def events.Notifier, st events.Status) {
	m, err := notifierView(def, st)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, status, m)
}

// decodeNotifier reads a PUT body strictly: an unknown field is refused,
// and a value of the wrong type or format names its field.
func decodeNotifier(w http.ResponseWriter, r *http.Request, def *events.Notifier) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body over 1 MiB")
		return false
	}
	// The cooldown is decoded on its own, so that a bad one is named.
	var body struct {
		*events.Notifier
		Cooldown json.RawMessage `json:"cooldown"`
	}
	body.Notifier = def
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	err = dec.Decode(&body)
	if err == nil && body.Cooldown != nil {
		if cerr := json.Unmarshal(body.Cooldown, &def.Cooldown); cerr != nil {
			err = &events.FieldError{Field: "cooldown", Msg: cerr.Error()}
		}
	}
	if err == nil {
		return true
	}
	var fe *events.FieldError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, "invalid_field", err.Error())
	case errors.As(err, &te) && te.Field != "":
		writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("%s: must be a JSON %s, not %s", te.Field, te.Type, te.Value))
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "invalid JSON body: "+err.Error())
	}
	return false
}

func (n *notifierRoutes) put(w http.ResponseWriter, r *http.Request) {
	name, ok := notifierName(w, r)
	if !ok {
		return
	}
	var def events.Notifier
	if !decodeNotifier(w, r, &def) {
		return
	}
	if def.Name != "" && def.Name != name {
		writeError(w, http.StatusBadRequest, "invalid_field", fmt.Sprintf("name: %q in the body is not %q in the path", def.Name, name))
		return
	}
	def.Name = name
	if err := def.Validate(); err != nil {
		notifierErr(w, err)
		return
	}
	created, err := n.n.Put(def)
	if err != nil {
		notifierErr(w, err)
		return
	}
	def, st, err := n.n.Get(name)
	if err != nil {
		notifierErr(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	n.write(w, status, def, st)
}

func (n *notifierRoutes) delete(w http.ResponseWriter, r *http.Request) {
	name, ok := notifierName(w, r)
	if !ok {
		return
	}
	if err := n.n.Delete(name); err != nil {
		notifierErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// test sends a sample event through the notifier now: 200 when the
// destination took it, 502 with the destination's error when not.
func (n *notifierRoutes) test(w http.ResponseWriter, r *http.Request) {
	name, ok := notifierName(w, r)
	if !ok {
		return
	}
	if _, _, err := n.n.Get(name); err != nil {
		notifierErr(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), notifierTestTimeout)
	defer cancel()
	if err := n.n.Test(ctx, name); err != nil {
		if errors.Is(err, events.ErrNotifierNotFound) {
			notifierErr(w, err)
			return
		}
		writeError(w, http.StatusBadGateway, "delivery_failed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"delivered": true})
}
