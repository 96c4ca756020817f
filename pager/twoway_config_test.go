package pager

import (
	"strings"
	"testing"

	"github.com/watchdog-sre/watchdog/pager/channel"
)

// TestTwoWayChannelConfig: the reply settings of Twilio and Slack channels
// parse, their secrets come only from files or the environment, and a
// user's slack_user_id is read.
func TestTwoWayChannelConfig(t *testing.T) {
	const base = `pager:
  users:
    - name: alice
      contact: {sms: "+15550000001", slack_user_id: U024BE7LH}
  escalation_policies:
    - name: p
      levels: [{targets: [user:alice]}]
  routes:
    - escalation_policy: p
  channels:
`
	good := base + `    - {name: sms, type: twilio, account_sid: AC1, auth_token_file: tw, from: "+1555", replies: true}
    - {name: voice, type: twilio, mode: voice, account_sid: AC1, api_key_sid: SK1, auth_token_env: TW_KEY, webhook_auth_token_file: tw, from: "+1555", replies: true}
    - {name: team, type: slack, webhook_url_file: hook, signing_secret_file: sig, response_url_prefix: "https://hooks.slack.com/"}
`
	c, err := ParseConfig("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.User("alice").Contact.SlackUserID; got != "U024BE7LH" {
		t.Errorf("slack_user_id = %q", got)
	}
	chs, err := c.BuildChannels(SecretSource{
		ReadFile:  func(name string) ([]byte, error) { return []byte(name + "-secret\n"), nil },
		LookupEnv: func(string) (string, bool) { return "key-secret", true },
	})
	if err != nil {
		t.Fatal(err)
	}
	if tw, ok := chs["voice"].(*channel.Twilio); !ok || !tw.Replies() ||
		tw.VerifyWebhook("https://x/", nil, channel.TwilioSignature("tw-secret", "https://x/", nil)) != nil {
		t.Errorf("voice channel does not verify with webhook_auth_token: %#v", chs["voice"])
	}
	if sl, ok := chs["team"].(*channel.Slack); !ok || !sl.Interactive() {
		t.Errorf("slack channel not interactive: %#v", chs["team"])
	}

	for name, line := range map[string]string{
		"inline signing secret": `    - {name: team, type: slack, webhook_url_file: hook, signing_secret: s3cr3t}`,
		"inline webhook token":  `    - {name: sms, type: twilio, account_sid: AC1, auth_token_file: tw, webhook_auth_token: s3cr3t, from: "+1"}`,
	} {
		_, err := ParseConfig("bad.yaml", []byte(base+line+"\n"))
		if err == nil || !strings.Contains(err.Error(), "is a secret") || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
