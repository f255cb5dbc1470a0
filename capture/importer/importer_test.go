package importer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/capture/importer"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

type storeReject = store.RejectRow

// Generated exports, each with good rows and the malformed rows a real
// export has: the line numbers of the bad ones are what the tests expect.

func chatlogJSON(n int) (data string, bad map[int]string) {
	var b strings.Builder
	b.WriteString("[\n")
	bad = map[int]string{}
	line := 2
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
			line++
		}
		m := map[string]any{"seq": 1700000000000 + i, "time": time.Unix(1700000000+int64(i)*60, 0).UTC().Format(time.RFC3339),
			"talker": "wxid_client1", "talkerName": "王总", "isChatRoom": false, "sender": "wxid_owner", "senderName": "张伟",
			"isSelf": i%2 == 0, "type": 1, "subType": 0, "content": fmt.Sprintf("第%d条：这个产品保本", i)}
		if i%2 == 1 {
			m["sender"] = "wxid_client1"
		}
		if i == 7 {
			m["type"], m["subType"], m["content"] = 49, 5, ""
			m["contents"] = map[string]any{"title": "季度报告", "url": "https://example.com/r", "md5": "0123456789abcdef0123456789abcdef"}
		}
		switch i {
		case 3:
			m["time"] = "yesterday"
			bad[line] = "time"
		case 5:
			delete(m, "seq")
			bad[line] = "seq"
		}
		j, _ := json.Marshal(m)
		b.Write(j)
	}
	b.WriteString("\n]\n")
	return b.String(), bad
}

func chatlogCSV(n int) (string, map[int]string) {
	var b strings.Builder
	b.WriteString("seq,time,talker,talkerName,isChatRoom,sender,senderName,isSelf,type,subType,content\n")
	bad := map[int]string{}
	line := 2
	for i := 0; i < n; i++ {
		self := i%2 == 0
		sender := "wxid_client1"
		if self {
			sender = "wxid_owner"
		}
		row := fmt.Sprintf("%d,%s,18800001111@chatroom,客户群,true,%s,,%v,1,0,\"第%d条, 含逗号\"\"引号\"\"\n多行\"\n",
			1700000000000+i, time.Unix(1700000000+int64(i)*60, 0).UTC().Format(time.RFC3339), sender, self, i)
		switch i {
		case 2:
			row = fmt.Sprintf("%d,%s,18800001111@chatroom,,maybe,wxid_x,,false,1,0,x\n", 1700000000000+i, time.Unix(1700000000, 0).UTC().Format(time.RFC3339))
			bad[line] = "isChatRoom"
		case 4:
			row = "1,2,3\n"
			bad[line] = ""
		}
		b.WriteString(row)
		line += strings.Count(row, "\n") // a multi-line content moves the next row's line
	}
	return b.String(), bad
}

func wechatMsgCSV(n int) (string, map[int]string) {
	var b strings.Builder
	b.WriteString("\xef\xbb\xbflocalId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n")
	bad := map[int]string{}
	for i := 0; i < n; i++ {
		line := i + 2
		isSender := i % 2
		row := fmt.Sprintf("%d,17,1,0,%d,%d,2,保證收益 %d,%s,王总,Wang,\n", i+1, isSender, 1700000000+i*60, i,
			time.Unix(1700000000+int64(i)*60, 0).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05"))
		switch i {
		case 1:
			row = fmt.Sprintf("%d,17,1,0,2,1700000000,2,x,,王总,Wang,\n", i+1)
			bad[line] = "IsSender"
		case 6:
			row = "abc,17,1,0,1,1700000000,2,x,,王总,Wang,\n"
			bad[line] = "localId"
		}
		b.WriteString(row)
	}
	return b.String(), bad
}

func pywxdumpCSV(n int) (string, map[int]string) {
	var b strings.Builder
	b.WriteString("id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime\r\n")
	bad := map[int]string{}
	for i := 0; i < n; i++ {
		line := i + 2
		talker := "wxid_client1"
		if i%2 == 1 {
			talker = "wxid_owner"
		}
		at := time.Unix(1700000000+int64(i)*60, 0).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
		row := fmt.Sprintf("%d,%d,文本,%d,%s,wxid_client1,\"保本, 第%d条\",,%s\r\n", i+1, 7283746519283746512+int64(i), i%2, talker, i, at)
		switch i {
		case 2:
			row = fmt.Sprintf("%d,%d,文本,2,wxid_client1,wxid_client1,x,,%s\r\n", i+1, 7283746519283746512+int64(i), at)
			bad[line] = "is_sender"
		case 5:
			row = fmt.Sprintf("%d,%d,文本,0,wxid_client1,wxid_client1,x,,2023/11/15\r\n", i+1, 7283746519283746512+int64(i))
			bad[line] = "CreateTime"
		}
		b.WriteString(row)
	}
	return b.String(), bad
}

func pywxdumpJSON(n int) (string, map[int]string) {
	bad := map[int]string{}
	var b strings.Builder
	b.WriteString("[\n")
	line := 2
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
			line++
		}
		talker := "wxid_client1"
		if i%2 == 1 {
			talker = "wxid_owner"
		}
		m := map[string]any{"id": i + 1, "MsgSvrID": fmt.Sprint(7283746519283746512 + int64(i)), "type_name": "文本", "is_sender": i % 2,
			"talker": talker, "room_name": "wxid_client1", "msg": fmt.Sprintf("保本 %d", i), "src": "", "extra": map[string]any{},
			"CreateTime": time.Unix(1700000000+int64(i)*60, 0).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")}
		if i == 4 {
			delete(m, "room_name")
			bad[line] = "room_name"
		}
		j, _ := json.Marshal(m)
		b.Write(j)
	}
	b.WriteString("\n]\n")
	return b.String(), bad
}

func jsonl(n int) (string, map[int]string) {
	var b strings.Builder
	bad := map[int]string{}
	for i := 0; i < n; i++ {
		line := i + 1
		m := map[string]any{"id": fmt.Sprintf("j%d", i), "sender": "zhangwei", "recipients": []string{"client9"},
			"sent_at": 1700000000000 + int64(i)*1000, "type": "text", "text": fmt.Sprintf("fee schedule %d", i), "employees": []string{"zhangwei"}}
		switch i {
		case 2:
			m["sent_at"] = "not a time"
			bad[line] = "sent_at"
		case 3:
			m["colour"] = "red"
			bad[line] = ""
		}
		j, _ := json.Marshal(m)
		if i == 8 {
			j = []byte(`{"id": "j8", "sender": `)
			bad[line] = ""
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String(), bad
}

func TestParseFormats(t *testing.T) {
	gen := map[importer.Format]func(int) (string, map[int]string){
		importer.ChatlogJSON: chatlogJSON, importer.ChatlogCSV: chatlogCSV, importer.WeChatMsgCSV: wechatMsgCSV, importer.JSONL: jsonl,
		importer.PyWxDumpCSV: pywxdumpCSV, importer.PyWxDumpJSON: pywxdumpJSON,
	}
	for _, f := range importer.Formats {
		t.Run(string(f), func(t *testing.T) {
			data, bad := gen[f](10)
			var good, rejected int
			err := importer.Parse(f, []byte(data), importer.Options{Owner: "wxid_owner"}, func(r importer.Row) error {
				if r.Err != nil {
					rejected++
					want, ok := bad[r.Line]
					if !ok || r.Err.Field != want || r.Err.Line != r.Line {
						t.Errorf("row at line %d rejected (%v); bad rows are %v", r.Line, r.Err, bad)
					}
					return nil
				}
				good++
				m := r.Message
				if m.SourceID == "" || m.Sender == "" || m.SentAt.IsZero() || m.Text == "" || len(r.Raw) == 0 ||
					!strings.HasPrefix(m.Source, "import:"+string(f)+":") || m.Details[0].Name != "capture" {
					t.Errorf("line %d: %+v", r.Line, m)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if rejected != len(bad) || good+rejected != 10 {
				t.Fatalf("%d good, %d rejected; want %d rejected of 10", good, rejected, len(bad))
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	data, _ := chatlogJSON(10)
	var rows []importer.Row
	importer.Parse(importer.ChatlogJSON, []byte(data), importer.Options{Owner: "wxid_owner"}, func(r importer.Row) error {
		rows = append(rows, r)
		return nil
	})
	// Row 0: sent by the owner to the client; row 1: the reverse; row 7 a link.
	if m := rows[0].Message; m.Sender != "wxid_owner" || m.Direction != archive.DirectionOutbound || m.Conversation != "direct:wxid_client1|wxid_owner" ||
		rows[0].Line != 2 || !strings.HasPrefix(string(rows[0].Raw), `{"content":"第0条`) {
		t.Fatalf("row 0: %+v line %d raw %s", m, rows[0].Line, rows[0].Raw)
	}
	if m := rows[1].Message; m.Sender != "wxid_client1" || m.Direction != archive.DirectionInbound || m.Recipients[0] != "wxid_owner" {
		t.Fatalf("row 1: %+v", m)
	}
	if m := rows[7].Message; m.Kind != archive.KindLink || m.Text != "季度报告" {
		t.Fatalf("row 7: %+v", m)
	}
	csvData, _ := chatlogCSV(4)
	var first importer.Row
	importer.Parse(importer.ChatlogCSV, []byte(csvData), importer.Options{Owner: "wxid_owner"}, func(r importer.Row) error {
		if first.Message == nil && r.Message != nil {
			first = r
		}
		return nil
	})
	if first.Message.Text != "第0条, 含逗号\"引号\"\n多行" || first.Message.ConversationKind != archive.ConversationGroup || !strings.HasSuffix(string(first.Raw), "多行\"") {
		t.Fatalf("csv row: %+v raw %q", first.Message, first.Raw)
	}
	// WeChatMsg needs to know whose export it is.
	w, _ := wechatMsgCSV(3)
	if err := importer.Parse(importer.WeChatMsgCSV, []byte(w), importer.Options{}, func(importer.Row) error { return nil }); err == nil || !strings.Contains(err.Error(), "owner") {
		t.Fatalf("wechatmsg without owner: %v", err)
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct {
		f          importer.Format
		data, want string
	}{
		{importer.ChatlogJSON, `{"seq": 1}`, "expected a JSON array"},
		{importer.ChatlogJSON, "[\n{\"seq\": 1},\n{\"seq\": ", "line 3"},
		{importer.ChatlogCSV, "seq,time\n1,2\n", "header lacks"},
		{importer.PyWxDumpCSV, "id,MsgSvrID\n1,2\n", "header lacks type_name"},
		{importer.PyWxDumpJSON, `{"id": 1}`, "expected a JSON array"},
		{importer.WeChatMsgCSV, "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n1,2,1,0,1,1700000000,2,\"unclosed,,,,\n", "line 2"},
		{importer.ChatlogCSV, "", "no header row"},
		{"xml", "", "unknown format"},
	} {
		err := importer.Parse(tc.f, []byte(tc.data), importer.Options{Owner: "o"}, func(importer.Row) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want %q", tc.f, tc.data, err, tc.want)
		}
	}
}

// TestImportResumes: an import interrupted after its first batch continues
// from the last durable line; importing the file again archives nothing;
// rejects are quarantined with their line.
func TestImportResumes(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	data, bad := wechatMsgCSV(250)
	im := &importer.Importer{Engine: r.Engine, Store: r.Store, Actor: "test", BatchSize: 100, Options: importer.Options{Owner: "wxid_owner"}}
	// Interrupt after the first durable batch.
	cctx, cancel := context.WithCancel(ctx)
	im.Progress = func(line int) { cancel() }
	sum, err := im.Run(cctx, importer.WeChatMsgCSV, "/exports/王总.csv", []byte(data))
	if err == nil || sum.Archived+len(sum.Rejected) != 100 {
		t.Fatalf("interrupted run: %+v, %v", sum, err)
	}
	im.Progress = nil
	sum, err = im.Run(ctx, importer.WeChatMsgCSV, "/exports/王总.csv", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Resumed != 101 || sum.Archived != 150 || len(sum.Rejected) != 0 || sum.Duplicates != 0 {
		t.Fatalf("resumed run: %+v (bad rows %v)", sum, bad)
	}
	c, _ := r.Store.Counts(ctx)
	if c.Messages != int64(250-len(bad)) || c.Rejects != int64(len(bad)) {
		t.Fatalf("counts %+v", c)
	}
	// Again: nothing new.
	sum, err = im.Run(ctx, importer.WeChatMsgCSV, "/exports/王总.csv", []byte(data))
	if err != nil || sum.Archived != 0 || sum.Resumed != 251 {
		t.Fatalf("third run: %+v, %v", sum, err)
	}
	var origins []string
	r.Store.Rejects(ctx, func(rr storeReject) error {
		origins = append(origins, rr.Origin+" "+rr.Field)
		return nil
	})
	if len(origins) != 2 || !strings.Contains(origins[0], "import:wechatmsg-csv file:王总.csv sha256:") || !strings.HasSuffix(origins[0], "line 3 IsSender") {
		t.Fatalf("quarantine %v", origins)
	}
	rows, _ := r.Store.MessagesBySourceID(ctx, "17#1")
	if len(rows) != 1 || !strings.Contains(rows[0].Origin, "line 2") || rows[0].Source != "import:wechatmsg-csv:wxid_owner" {
		t.Fatalf("message 17#1: %+v", rows)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
