/*
 * A stand-in for libWeWorkFinanceSdk_C.so with the same C interface, built
 * by the binding's test: it proves the binding marshals every call, and is
 * all CI ever loads. Behaviour: Init accepts corp "ww_test" / secret
 * "secret"; GetChatData returns one message per seq up to 3; DecryptData
 * returns "<key>:<msg>"; GetMediaData serves "0123456789" in chunks of 4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../wxa_finance.h"

struct WeWorkFinanceSdk_t { int ready; };

WeWorkFinanceSdk_t *NewSdk(void) { return calloc(1, sizeof(WeWorkFinanceSdk_t)); }
void DestroySdk(WeWorkFinanceSdk_t *s) { free(s); }

int Init(WeWorkFinanceSdk_t *s, const char *corp, const char *secret) {
	if (strcmp(corp, "ww_test") != 0 || strcmp(secret, "secret") != 0) return 10000;
	s->ready = 1;
	return 0;
}

Slice_t *NewSlice(void) { return calloc(1, sizeof(Slice_t)); }
void FreeSlice(Slice_t *s) { if (s) { free(s->buf); free(s); } }
MediaData_t *NewMediaData(void) { return calloc(1, sizeof(MediaData_t)); }
void FreeMediaData(MediaData_t *m) { if (m) { free(m->outindexbuf); free(m->data); free(m); } }

static void put(Slice_t *s, const char *text) {
	s->len = (int)strlen(text);
	s->buf = malloc(s->len + 1);
	memcpy(s->buf, text, s->len + 1);
}

int GetChatData(WeWorkFinanceSdk_t *s, unsigned long long seq, unsigned int limit, const char *proxy,
                const char *passwd, int timeout, Slice_t *out) {
	if (!s->ready) return 10003;
	if (limit == 0 || limit > 1000 || timeout <= 0) return 10000;
	if (seq >= 3) { put(out, "{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":[]}"); return 0; }
	char buf[512];
	snprintf(buf, sizeof buf, "{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":[{\"seq\":%llu,\"msgid\":\"m%llu\","
		"\"publickey_ver\":1,\"encrypt_random_key\":\"k\",\"encrypt_chat_msg\":\"c\"}]}", seq + 1, seq + 1);
	put(out, buf);
	return 0;
}

int DecryptData(const char *key, const char *msg, Slice_t *out) {
	if (strlen(key) == 0) return 10006;
	char buf[512];
	snprintf(buf, sizeof buf, "%s:%s", key, msg);
	put(out, buf);
	return 0;
}

int GetMediaData(WeWorkFinanceSdk_t *s, const char *index, const char *fileid, const char *proxy,
                 const char *passwd, int timeout, MediaData_t *m) {
	static const char media[] = "0123456789";
	if (strcmp(fileid, "file1") != 0) return 10005;
	int off = index[0] ? atoi(index) : 0;
	int n = 10 - off < 4 ? 10 - off : 4;
	m->data = malloc(n);
	memcpy(m->data, media + off, n);
	m->data_len = n;
	char next[16];
	snprintf(next, sizeof next, "%d", off + n);
	m->out_len = (int)strlen(next);
	m->outindexbuf = malloc(m->out_len + 1);
	memcpy(m->outindexbuf, next, m->out_len + 1);
	m->is_finish = off + n >= 10;
	return 0;
}
