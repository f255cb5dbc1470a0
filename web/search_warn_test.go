package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
)

// TestSearchPageWarnings: an unknown person or department filter is a
// warning above the results, in the page's language; a known one is none.
// Senders, in hits and facets, show the directory name beside the id.
func TestSearchPageWarnings(t *testing.T) {
	s := newSite(t)
	s.ingestFixture()
	p := archive.ParticipantEvent{ID: "zhangwei", Kind: archive.ParticipantEmployee, Name: "张伟", Department: "财富管理部", ValidFrom: archive.MillisTime(0)}
	ev, err := journal.NewEvent(archive.EventParticipantUpdated, "cli:test", archive.Time{}, nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.r.Engine.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []struct {
		accept, html, heading, person, dept string
	}{
		{"en", "en", "check these filters", `from: &#34;zhangwie&#34; is no one the archive knows, by id or directory name. Did you mean zhangwei?`,
			`department: &#34;财富管理部x&#34; is not in the directory. Did you mean 财富管理部? Known departments: 财富管理部.`},
		{"zh-CN", "zh-Hans", "请检查以下筛选条件", `from：&#34;zhangwie&#34; 不是存档已知的任何人（既不是 ID，也不是通讯录中的姓名）。 您是否要找 zhangwei？`,
			`department：&#34;财富管理部x&#34; 不在通讯录中。 您是否要找 财富管理部？ 已知部门：财富管理部。`},
	} {
		b := s.browser()
		b.lang = lang.accept
		b.login(principalUser, "/")
		pg := b.get("/search?q=" + url.QueryEscape("保证 from:zhangwie OR department:财富管理部x"))
		checkPage(t, "search with unknown filters", pg, lang.html)
		if pg.status != 200 || !strings.Contains(pg.body, `id="search-warnings"`) || !strings.Contains(pg.body, lang.heading) ||
			!strings.Contains(pg.body, "<li>"+lang.person+"</li>") || !strings.Contains(pg.body, "<li>"+lang.dept+"</li>") {
			t.Errorf("%s: the warnings are not shown:\n%s", lang.html, pg.body)
		}
		pg = b.get("/search?q=" + url.QueryEscape("保证 from:张伟 department:财富管理部") + "&facets=1")
		checkPage(t, "search with known filters", pg, lang.html)
		if pg.status != 200 || strings.Contains(pg.body, `id="search-warnings"`) {
			t.Errorf("%s: known filters warned:\n%s", lang.html, pg.body)
		}
		if !strings.Contains(pg.body, `张伟 <span class="id">zhangwei</span></a>`) {
			t.Errorf("%s: the sender facet has no name beside the id:\n%s", lang.html, pg.body)
		}
		if !strings.Contains(pg.body, `">张伟 <span class="id">zhangwei</span></span>`) {
			t.Errorf("%s: a hit's sender has no name beside the id:\n%s", lang.html, pg.body)
		}
	}
}
