package pager

// Actor is who acted on an incident and the way they did it. User is a
// user of the pager config (or "operator" for the shared API token, or an
// unverified name the operator's caller gave); Via is one of the Via…
// constants.
type Actor struct {
	User string
	Via  string
}

// The ways a person can act, recorded in TimelineEntry.Via.
const (
	ViaConsole = "console"
	ViaCLI     = "cli"
	ViaAPI     = "api"
	ViaLink    = "link"
	ViaSMS     = "sms"
	ViaVoice   = "voice"
	ViaSlack   = "slack"
	ViaSystem  = "system"
)

// String renders the actor as the timeline does: "alice (sms)", or the
// user alone when Via is unknown.
func (a Actor) String() string {
	if a.Via == "" {
		return a.User
	}
	return a.User + " (" + a.Via + ")"
}

// actorOf returns who caused a human event and how, and whether ev is one.
func actorOf(ev Event) (Actor, bool) {
	switch ev := ev.(type) {
	case Ack:
		return Actor{ev.By, ev.Via}, true
	case Resolve:
		return Actor{ev.By, ev.Via}, true
	case Snooze:
		return Actor{ev.By, ev.Via}, true
	case Reassign:
		return Actor{ev.By, ev.Via}, true
	case EscalateNow:
		return Actor{ev.By, ev.Via}, true
	case DeclareMajor:
		return Actor{ev.By, ev.Via}, true
	case Note:
		return Actor{ev.By, ev.Via}, true
	}
	return Actor{}, false
}
