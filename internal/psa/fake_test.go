package psa

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// fakeTicket is a ticket held by a fake PSA.
type fakeTicket struct {
	ID       int
	Company  string
	Summary  string
	Board    string // ConnectWise board or Halo team
	Priority string
	Status   string
	XRef     string
	Notes    []string
}

// fakePSA serves the ConnectWise PSA and HaloPSA ticket calls firebreak
// makes, with the shapes of their documentation (see connectwise.go and
// halo.go), over one in-memory ticket table.
type fakePSA struct {
	mu        sync.Mutex
	tickets   map[int]*fakeTicket
	next      int
	companies map[string]bool // known ConnectWise identifiers / Halo client ids
	calls     int
	latency   time.Duration
	// fault, when set, may answer a request instead (status 0: go on);
	// after runs once the request was handled (for lost answers).
	fault func(r *http.Request, n int) (status int, body string, hdr http.Header, after bool)
}

func newFakePSA(companies ...string) *fakePSA {
	f := &fakePSA{tickets: map[int]*fakeTicket{}, next: 1000, companies: map[string]bool{}}
	for _, c := range companies {
		f.companies[c] = true
	}
	return f
}

func (f *fakePSA) byXRef(x string) []*fakeTicket {
	var out []*fakeTicket
	for _, t := range f.tickets {
		if t.XRef == x || (x != "" && strings.Contains(t.Summary, "["+x+"]")) {
			out = append(out, t)
		}
	}
	return out
}

func (f *fakePSA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var after bool
	var st int
	var fb string
	var fh http.Header
	if f.fault != nil {
		st, fb, fh, after = f.fault(r, f.calls)
		if st != 0 && !after {
			for k, v := range fh {
				w.Header()[k] = v
			}
			w.WriteHeader(st)
			io.WriteString(w, fb)
			return
		}
	}
	rec := httptest.NewRecorder()
	if strings.HasPrefix(r.URL.Path, "/v4_6_release/apis/3.0/") {
		f.connectwise(rec, r, body)
	} else {
		f.halo(rec, r, body)
	}
	if after && st != 0 { // handled, but the answer is lost
		w.WriteHeader(st)
		io.WriteString(w, fb)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func jsonErr(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakePSA) connectwise(w http.ResponseWriter, r *http.Request, body []byte) {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("acme+pub:priv"))
	if r.Header.Get("Authorization") != want || r.Header.Get("clientId") == "" {
		jsonErr(w, 401, `{"code":"Unauthorized","message":"Authentication failed."}`)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v4_6_release/apis/3.0")
	switch {
	case r.Method == "GET" && path == "/service/tickets":
		cond := r.URL.Query().Get("conditions")
		x, ok := strings.CutPrefix(cond, `externalXRef="`)
		if !ok || !strings.HasSuffix(x, `"`) {
			jsonErr(w, 400, `{"code":"InvalidObject","message":"conditions not understood"}`)
			return
		}
		out := []map[string]int{}
		for _, t := range f.byXRef(strings.TrimSuffix(x, `"`)) {
			out = append(out, map[string]int{"id": t.ID})
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == "POST" && path == "/service/tickets":
		var in struct {
			Summary      string
			ExternalXRef string
			Board        struct{ Name string }
			Company      struct{ Identifier string }
			Priority     struct{ Name string }
			Status       struct{ Name string }
		}
		if err := json.Unmarshal(body, &in); err != nil || in.Summary == "" || utf8.RuneCountInString(in.Summary) > 100 || in.Board.Name == "" {
			jsonErr(w, 400, `{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"InvalidField","message":"summary is required (max 100)","field":"summary"}]}`)
			return
		}
		if !f.companies[in.Company.Identifier] {
			jsonErr(w, 400, `{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"InvalidField","message":"The company was not found.","resource":"ticket","field":"company"}]}`)
			return
		}
		f.next++
		f.tickets[f.next] = &fakeTicket{ID: f.next, Company: in.Company.Identifier, Summary: in.Summary, Board: in.Board.Name, Priority: in.Priority.Name, Status: in.Status.Name, XRef: in.ExternalXRef}
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"id":%d,"summary":%q}`, f.next, in.Summary)
	case strings.HasPrefix(path, "/service/tickets/"):
		rest := strings.TrimPrefix(path, "/service/tickets/")
		idStr, sub, _ := strings.Cut(rest, "/")
		id, _ := strconv.Atoi(idStr)
		t := f.tickets[id]
		if t == nil {
			jsonErr(w, 404, `{"code":"NotFound","message":"Ticket not found"}`)
			return
		}
		switch {
		case r.Method == "POST" && sub == "notes":
			var n struct{ Text string }
			json.Unmarshal(body, &n)
			t.Notes = append(t.Notes, n.Text)
			w.WriteHeader(201)
			io.WriteString(w, `{"id":1}`)
		case r.Method == "PATCH" && sub == "":
			var ops []struct {
				Op, Path string
				Value    json.RawMessage
			}
			if err := json.Unmarshal(body, &ops); err != nil {
				jsonErr(w, 400, `{"code":"InvalidObject","message":"patch must be an array"}`)
				return
			}
			for _, op := range ops {
				var ref struct{ Name string }
				switch op.Path {
				case "summary":
					json.Unmarshal(op.Value, &t.Summary)
				case "status":
					json.Unmarshal(op.Value, &ref)
					t.Status = ref.Name
				case "priority":
					json.Unmarshal(op.Value, &ref)
					t.Priority = ref.Name
				}
			}
			fmt.Fprintf(w, `{"id":%d}`, t.ID)
		default:
			http.NotFound(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakePSA) halo(w http.ResponseWriter, r *http.Request, body []byte) {
	switch {
	case r.URL.Path == "/auth/token":
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		r.ParseForm()
		if r.Form.Get("client_secret") != "halo-secret" || r.Form.Get("grant_type") != "client_credentials" {
			jsonErr(w, 401, `{"error":"invalid_client"}`)
			return
		}
		io.WriteString(w, `{"access_token":"halo-tok","token_type":"Bearer","expires_in":3600}`)
		return
	case r.Header.Get("Authorization") != "Bearer halo-tok":
		w.WriteHeader(401)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/api/Tickets":
		q := r.URL.Query().Get("search")
		var out []map[string]any
		for _, t := range f.byXRef(q) {
			out = append(out, map[string]any{"id": t.ID, "summary": t.Summary})
		}
		json.NewEncoder(w).Encode(map[string]any{"record_count": len(out), "tickets": out})
	case r.Method == "POST" && r.URL.Path == "/api/Tickets":
		var in []struct {
			ID         int    `json:"id"`
			Summary    string `json:"summary"`
			ClientID   int    `json:"client_id"`
			Team       string `json:"team"`
			PriorityID int    `json:"priority_id"`
			StatusID   int    `json:"status_id"`
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in) != 1 {
			jsonErr(w, 400, `"The request body must be an array of tickets"`)
			return
		}
		tk := in[0]
		if tk.ID == 0 {
			if !f.companies[strconv.Itoa(tk.ClientID)] {
				jsonErr(w, 400, `"Client not found"`)
				return
			}
			f.next++
			f.tickets[f.next] = &fakeTicket{ID: f.next, Company: strconv.Itoa(tk.ClientID), Summary: tk.Summary, Board: tk.Team,
				Priority: strconv.Itoa(tk.PriorityID), Status: strconv.Itoa(tk.StatusID)}
			fmt.Fprintf(w, `{"id":%d,"summary":%q}`, f.next, tk.Summary)
			return
		}
		t := f.tickets[tk.ID]
		if t == nil {
			jsonErr(w, 404, `"Ticket not found"`)
			return
		}
		t.Summary, t.Board, t.Priority, t.Status = tk.Summary, tk.Team, strconv.Itoa(tk.PriorityID), strconv.Itoa(tk.StatusID)
		fmt.Fprintf(w, `{"id":%d}`, t.ID)
	case r.Method == "POST" && r.URL.Path == "/api/Actions":
		var in []struct {
			TicketID int    `json:"ticket_id"`
			Note     string `json:"note"`
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in) != 1 || f.tickets[in[0].TicketID] == nil {
			jsonErr(w, 400, `"Invalid action"`)
			return
		}
		t := f.tickets[in[0].TicketID]
		t.Notes = append(t.Notes, in[0].Note)
		io.WriteString(w, `{"id":1}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakePSA) snapshot() []fakeTicket {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeTicket
	for _, t := range f.tickets {
		c := *t
		c.Notes = append([]string(nil), t.Notes...)
		out = append(out, c)
	}
	return out
}
