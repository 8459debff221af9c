/*
 * fb_codec.h - reference C99 codec of the edgekit scanner wire protocol 1.1 (PROTOCOL.md).
 *
 * Device side: encode HELLO/CAPTURE/POWER/HEARTBEAT/LOG/PONG/TIME_REPLY packets into a caller's
 * buffer (header + payload + CRC-32, COBS-encoded, 0x00 delimiter), and decode host commands
 * (START/STOP/CONFIG/RESULT/PING/TIME_REQUEST) one received byte at a time. No allocation, no
 * globals other than the constant CRC table (generated at build time into fb_crc_table.h), no
 * dependency beyond <stdint.h>/<stddef.h>/<string.h>. Floating-point checks work on the bit
 * patterns, so they hold under -ffast-math / -Ofast as well.
 */
#ifndef FB_CODEC_H
#define FB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define FB_PROTOCOL_MAJOR 1u
#define FB_PROTOCOL_MINOR 2u

#define FB_HEADER_SIZE 16u
#define FB_CRC_SIZE 4u
#define FB_MAX_PAYLOAD_SIZE 4140u
#define FB_MAX_PACKET_SIZE (FB_HEADER_SIZE + FB_MAX_PAYLOAD_SIZE + FB_CRC_SIZE) /* 4160 */
/* COBS-encoded packet without its delimiter; + 1 for the 0x00 gives an output buffer size. */
#define FB_MAX_ENCODED_SIZE (FB_MAX_PACKET_SIZE + FB_MAX_PACKET_SIZE / 254u + 1u) /* 4177 */
#define FB_MAX_FRAME_SIZE (FB_MAX_ENCODED_SIZE + 1u)                             /* 4178 */

#define FB_MAX_CAPTURE_SAMPLES 1024u
#define FB_MAX_POWER_SAMPLES 256u
#define FB_MAX_LOG_TEXT 255u
/* Host commands are small; a longer frame is dropped as an overflow. */
#define FB_RX_BUFFER_SIZE 128u

enum fb_msg_type {
    FB_MSG_HELLO = 0x01,
    FB_MSG_CAPTURE = 0x02,
    FB_MSG_POWER = 0x03,
    FB_MSG_HEARTBEAT = 0x04,
    FB_MSG_LOG = 0x05,
    FB_MSG_PONG = 0x06,
    FB_MSG_TIME_REPLY = 0x07,
    FB_MSG_START = 0x81,
    FB_MSG_STOP = 0x82,
    FB_MSG_CONFIG = 0x83,
    FB_MSG_RESULT = 0x84,
    FB_MSG_PING = 0x85,
    FB_MSG_TIME_REQUEST = 0x86
};

enum fb_flag { FB_FLAG_OVERFLOW = 0x01, FB_FLAG_BOOT = 0x02 };
enum fb_sample_format { FB_SAMPLE_CI16 = 1 };
enum fb_device_state { FB_STATE_IDLE = 0, FB_STATE_STREAMING = 1, FB_STATE_STOPPED = 2 };
enum fb_capability {
    FB_CAP_POWER_MONITOR = 0x01,
    FB_CAP_HEARTBEAT = 0x02,
    FB_CAP_RESULT_DISPLAY = 0x04,
    FB_CAP_CONFIG_GAIN = 0x08,
    FB_CAP_CONFIG_FREQUENCY = 0x10,
    FB_CAP_TIME_SYNC = 0x20
};
/* A device repeats its BOOT HELLO this often until a host command arrives (PROTOCOL.md 6.2). */
#define FB_BOOT_HELLO_REPEAT_MS 250u

typedef struct {
    uint16_t seq;          /* u16, wraps */
    uint64_t timestamp_us; /* device clock, microseconds */
    uint8_t flags;         /* enum fb_flag */
} fb_tx_header_t;

typedef struct {
    uint8_t protocol_major, protocol_minor;
    uint8_t firmware_major, firmware_minor;
    uint16_t firmware_patch;
    uint64_t device_id;
    uint32_t sample_rate_hz;
    uint8_t sample_format;
    uint16_t samples_per_capture;
    uint64_t centre_freq_hz;
    uint32_t capabilities;
    uint32_t boot_id;           /* 1.1: random, non-zero, drawn at every boot */
    uint8_t state;              /* 1.1: enum fb_device_state */
    uint32_t capture_period_ms; /* 1.1: in force */
    uint16_t power_period_ms;   /* 1.1: in force (0 = no POWER) */
} fb_hello_t;

typedef struct {
    uint32_t capture_id;
    uint32_t sample_rate_hz;
    uint64_t centre_freq_hz;
    float gain_db;
    uint8_t sample_format;
    uint16_t n_samples;  /* complex samples, <= FB_MAX_CAPTURE_SAMPLES */
    const int16_t *iq;   /* 2 * n_samples values: I0, Q0, I1, Q1, ... (native endianness) */
} fb_capture_t;

typedef struct {
    uint64_t timestamp_us;
    uint16_t voltage_mv;
    int32_t current_ua;
} fb_power_sample_t;

typedef struct {
    uint16_t n_samples; /* <= FB_MAX_POWER_SAMPLES */
    const fb_power_sample_t *samples;
} fb_power_t;

typedef struct {
    uint32_t uptime_s, captures_sent, captures_dropped, rx_errors;
    uint32_t boot_id;           /* 1.1 */
    uint32_t host_packets_lost; /* 1.1: fb_rx_stats_t.lost_packets */
    uint8_t state;              /* 1.1: enum fb_device_state */
} fb_heartbeat_t;

typedef struct {
    uint8_t level;
    uint8_t text_len;  /* bytes of UTF-8 */
    const char *text;
} fb_log_t;

/* Each encoder writes one complete frame (ending in 0x00) into out and returns its length,
 * or 0 if out_size is too small or a field is invalid. out_size >= FB_MAX_FRAME_SIZE always
 * suffices. */
size_t fb_encode_hello(uint8_t *out, size_t out_size, const fb_tx_header_t *h, const fb_hello_t *m);
size_t fb_encode_capture(uint8_t *out, size_t out_size, const fb_tx_header_t *h,
                         const fb_capture_t *m);
size_t fb_encode_power(uint8_t *out, size_t out_size, const fb_tx_header_t *h, const fb_power_t *m);
size_t fb_encode_heartbeat(uint8_t *out, size_t out_size, const fb_tx_header_t *h,
                           const fb_heartbeat_t *m);
size_t fb_encode_log(uint8_t *out, size_t out_size, const fb_tx_header_t *h, const fb_log_t *m);
size_t fb_encode_pong(uint8_t *out, size_t out_size, const fb_tx_header_t *h, uint32_t token);
/* TIME_REPLY: t1 echoed from the request, t2 = device clock when the request's delimiter
 * arrived (fb_command_t.received_us is for the caller to fill), t3 = device clock now. */
size_t fb_encode_time_reply(uint8_t *out, size_t out_size, const fb_tx_header_t *h, uint64_t t1_us,
                            uint64_t t2_us, uint64_t t3_us);

/* ---- host commands ---- */
typedef struct {
    uint32_t sample_rate_hz;
    uint64_t centre_freq_hz;
    float gain_db;
    uint32_t capture_period_ms;
    uint16_t samples_per_capture;
    uint16_t power_period_ms;
} fb_config_t;

typedef struct {
    uint32_t capture_id;
    uint16_t label_index;
    uint8_t flags; /* 0x01 unknown, 0x02 fallback, 0x04 overrun, 0x08 latency from receipt,
                      0x10 context (1.2) */
    float confidence;
    uint32_t latency_us;
    /* 1.2, present when has_context (flag 0x10 in a packet of minor >= 2): how often the model
       was right at build time for this label in conditions like the capture's. Fractions in
       units of 1e-4 (0..10000, ci_low <= precision <= ci_high); n saturates at 65535. */
    uint8_t has_context;
    uint16_t ctx_precision_e4;
    uint16_t ctx_ci_low_e4;
    uint16_t ctx_ci_high_e4;
    uint16_t ctx_n;
} fb_result_t;

typedef struct {
    uint8_t type; /* enum fb_msg_type */
    uint8_t flags;
    uint8_t version_minor;
    uint16_t seq;
    uint64_t timestamp_us;
    union {
        fb_config_t config;
        fb_result_t result;
        uint32_t ping_token;
        uint64_t time_t1_us; /* TIME_REQUEST */
    } u;
} fb_command_t;

typedef enum {
    FB_RX_NONE = 0,          /* need more bytes */
    FB_RX_COMMAND = 1,       /* *out holds a command */
    FB_RX_ERR_COBS = -1,     /* malformed COBS */
    FB_RX_ERR_SHORT = -2,    /* shorter than header + CRC */
    FB_RX_ERR_LENGTH = -3,   /* header payload_len disagrees with the frame */
    FB_RX_ERR_CRC = -4,      /* CRC-32 mismatch */
    FB_RX_ERR_PAYLOAD = -5,  /* known type, malformed payload */
    FB_RX_ERR_OVERFLOW = -6, /* frame longer than FB_RX_BUFFER_SIZE, dropped */
    FB_RX_ERR_VERSION = -7,  /* another protocol major version: refused */
    FB_RX_UNKNOWN_TYPE = -8, /* valid packet of an unknown (or device-to-host) type: skipped */
    FB_RX_DUPLICATE = -9     /* one of the last FB_DUPLICATE_WINDOW packets, again: skipped */
} fb_rx_status_t;

/* lost_packets: gaps in the host's sequence numbers (a backward jump is a new host session,
 * counted in host_restarts, never as loss). Report lost_packets in HEARTBEAT. */
#define FB_DUPLICATE_WINDOW 64 /* packets remembered to recognise a duplicate (PROTOCOL.md 4.1) */

typedef struct {
    uint32_t packets, crc_failures, framing_errors, overflows, lost_packets, unknown_types,
        version_mismatches, duplicates, host_restarts;
} fb_rx_stats_t;

typedef struct {
    uint8_t buf[FB_RX_BUFFER_SIZE];
    size_t len;
    uint8_t discarding;
    uint8_t seq_valid;
    uint16_t expected_seq;
    /* the last FB_DUPLICATE_WINDOW packets' sequence numbers and CRCs (PROTOCOL.md 4.1 rule 1):
     * a ring, 384 bytes; a repeat of any of them is a duplicate, not a host restart */
    uint16_t recent_seq[FB_DUPLICATE_WINDOW];
    uint32_t recent_crc[FB_DUPLICATE_WINDOW];
    uint8_t recent_len, recent_next;
    fb_rx_stats_t stats;
} fb_decoder_t;

void fb_decoder_init(fb_decoder_t *d);
/* Feed one received byte; returns FB_RX_COMMAND when *out was filled, FB_RX_NONE while a frame
 * is incomplete, or a negative status when a frame was dropped (the decoder is ready for the
 * next frame either way). */
fb_rx_status_t fb_decoder_push(fb_decoder_t *d, uint8_t byte, fb_command_t *out);

/* ---- building blocks ---- */
/* Nonzero when the float's bit pattern is NaN or an infinity (works under -ffast-math, where
 * x != x and isfinite() may be compiled away). */
int fb_f32_is_nonfinite(float f);
uint32_t fb_crc32(uint32_t crc, const uint8_t *data, size_t len); /* zlib: start with 0 */
/* In-place COBS decode of an undelimited frame; returns the decoded length or -1 if malformed. */
long fb_cobs_decode_inplace(uint8_t *buf, size_t len);

#endif /* FB_CODEC_H */
