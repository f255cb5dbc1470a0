/*
 * The WeCom Finance SDK's C interface (WeWorkFinanceSdk_C.h), declared here
 * from the vendor's published documentation so that wxarchive compiles
 * without the vendor's files. The library itself
 * (libWeWorkFinanceSdk_C.so) is never part of this repository: the operator
 * supplies it and wxarchive loads it at run time from a configured path.
 */
#ifndef WXA_FINANCE_H
#define WXA_FINANCE_H

typedef struct WeWorkFinanceSdk_t WeWorkFinanceSdk_t;

typedef struct Slice_t {
	char *buf;
	int len;
} Slice_t;

typedef struct MediaData {
	char *outindexbuf;
	int out_len;
	char *data;
	int data_len;
	int is_finish;
} MediaData_t;

typedef WeWorkFinanceSdk_t *(*wxa_NewSdk)(void);
typedef int (*wxa_Init)(WeWorkFinanceSdk_t *sdk, const char *corpid, const char *secret);
typedef int (*wxa_GetChatData)(WeWorkFinanceSdk_t *sdk, unsigned long long seq, unsigned int limit,
                               const char *proxy, const char *passwd, int timeout, Slice_t *chatDatas);
typedef int (*wxa_DecryptData)(const char *encrypt_key, const char *encrypt_msg, Slice_t *msg);
typedef int (*wxa_GetMediaData)(WeWorkFinanceSdk_t *sdk, const char *indexbuf, const char *sdkFileid,
                                const char *proxy, const char *passwd, int timeout, MediaData_t *media_data);
typedef void (*wxa_DestroySdk)(WeWorkFinanceSdk_t *sdk);
typedef Slice_t *(*wxa_NewSlice)(void);
typedef void (*wxa_FreeSlice)(Slice_t *slice);
typedef MediaData_t *(*wxa_NewMediaData)(void);
typedef void (*wxa_FreeMediaData)(MediaData_t *media_data);

#endif
