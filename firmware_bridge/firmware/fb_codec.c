/* fb_codec.c - see fb_codec.h and PROTOCOL.md. C99, no allocation. */
#include "fb_codec.h"

#include <string.h>

typedef char fb_float_is_32_bits[(sizeof(float) == 4) ? 1 : -1];

/* ---- CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), identical to zlib.crc32 ---- */
static uint32_t crc_table_entry(uint32_t n) {
    int k;
    for (k = 0; k < 8; k++) {
        n = (n & 1u) ? (0xEDB88320u ^ (n >> 1)) : (n >> 1);
    }
    return n;
}

static uint32_t crc_table[256];
static int crc_table_ready = 0;

static void crc_init(void) {
    uint32_t i;
    if (crc_table_ready) {
        return;
    }
    for (i = 0; i < 256u; i++) {
        crc_table[i] = crc_table_entry(i);
    }
    crc_table_ready = 1;
}

uint32_t fb_crc32(uint32_t crc, const uint8_t *data, size_t len) {
    size_t i;
    crc_init();
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc = crc_table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- streaming writer: CRC and COBS computed while the packet bytes are produced ---- */
typedef struct {
    uint8_t *out;
    size_t size;
    size_t len;      /* bytes written, including the reserved code slot */
    size_t code_pos; /* index of the current block's code byte */
    uint8_t code;    /* 1 + bytes in the current block */
    uint8_t after_full;
    uint8_t failed;
    uint32_t crc; /* running, pre-inverted */
} writer_t;

static void w_reserve(writer_t *w) {
    if (w->len >= w->size) {
        w->failed = 1;
        return;
    }
    w->code_pos = w->len++;
    w->code = 1;
}

static void w_init(writer_t *w, uint8_t *out, size_t size) {
    crc_init();
    w->out = out;
    w->size = size;
    w->len = 0;
    w->failed = 0;
    w->after_full = 0;
    w->crc = 0xFFFFFFFFu;
    w_reserve(w);
}

static void w_cobs(writer_t *w, uint8_t b) {
    if (w->failed) {
        return;
    }
    if (b == 0) {
        w->out[w->code_pos] = w->code;
        w->after_full = 0;
        w_reserve(w);
        return;
    }
    if (w->len >= w->size) {
        w->failed = 1;
        return;
    }
    w->out[w->len++] = b;
    w->code++;
    w->after_full = 0;
    if (w->code == 0xFFu) {
        w->out[w->code_pos] = 0xFFu;
        w_reserve(w);
        w->after_full = 1;
    }
}

static void w_u8(writer_t *w, uint8_t b) {
    w->crc = crc_table[(w->crc ^ b) & 0xFFu] ^ (w->crc >> 8);
    w_cobs(w, b);
}
static void w_u16(writer_t *w, uint16_t v) {
    w_u8(w, (uint8_t)(v & 0xFFu));
    w_u8(w, (uint8_t)(v >> 8));
}
static void w_u32(writer_t *w, uint32_t v) {
    w_u16(w, (uint16_t)(v & 0xFFFFu));
    w_u16(w, (uint16_t)(v >> 16));
}
static void w_u64(writer_t *w, uint64_t v) {
    w_u32(w, (uint32_t)(v & 0xFFFFFFFFu));
    w_u32(w, (uint32_t)(v >> 32));
}
static void w_f32(writer_t *w, float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    w_u32(w, bits);
}

static void w_header(writer_t *w, uint8_t type, const fb_tx_header_t *h, size_t payload_len) {
    w_u8(w, (uint8_t)FB_PROTOCOL_MAJOR);
    w_u8(w, (uint8_t)FB_PROTOCOL_MINOR);
    w_u8(w, type);
    w_u8(w, h->flags);
    w_u16(w, h->seq);
    w_u16(w, (uint16_t)payload_len);
    w_u64(w, h->timestamp_us);
}

static size_t w_finish(writer_t *w) {
    uint32_t crc = ~w->crc;
    int i;
    for (i = 0; i < 4; i++) { /* the CRC itself is COBS-encoded but not CRC'd */
        w_cobs(w, (uint8_t)(crc >> (8 * i)));
    }
    if (w->failed) {
        return 0;
    }
    if (w->after_full) {
        w->len--; /* a full final block needs no trailing code byte */
    } else {
        w->out[w->code_pos] = w->code;
    }
    if (w->len >= w->size) {
        return 0;
    }
    w->out[w->len++] = 0x00;
    return w->len;
}

size_t fb_encode_hello(uint8_t *out, size_t out_size, const fb_tx_header_t *h,
                       const fb_hello_t *m) {
    writer_t w;
    w_init(&w, out, out_size);
    w_header(&w, FB_MSG_HELLO, h, 34u);
    w_u8(&w, m->protocol_major);
    w_u8(&w, m->protocol_minor);
    w_u8(&w, m->firmware_major);
    w_u8(&w, m->firmware_minor);
    w_u16(&w, m->firmware_patch);
    w_u64(&w, m->device_id);
    w_u32(&w, m->sample_rate_hz);
    w_u8(&w, m->sample_format);
    w_u8(&w, 0);
    w_u16(&w, m->samples_per_capture);
    w_u64(&w, m->centre_freq_hz);
    w_u32(&w, m->capabilities);
    return w_finish(&w);
}

size_t fb_encode_capture(uint8_t *out, size_t out_size, const fb_tx_header_t *h,
                         const fb_capture_t *m) {
    writer_t w;
    size_t i;
    if (m->n_samples > FB_MAX_CAPTURE_SAMPLES || m->sample_format != FB_SAMPLE_CI16 ||
        (m->n_samples > 0 && m->iq == NULL)) {
        return 0;
    }
    w_init(&w, out, out_size);
    w_header(&w, FB_MSG_CAPTURE, h, 24u + 4u * (size_t)m->n_samples);
    w_u32(&w, m->capture_id);
    w_u32(&w, m->sample_rate_hz);
    w_u64(&w, m->centre_freq_hz);
    w_f32(&w, m->gain_db);
    w_u8(&w, m->sample_format);
    w_u8(&w, 0);
    w_u16(&w, m->n_samples);
    for (i = 0; i < 2u * (size_t)m->n_samples; i++) {
        w_u16(&w, (uint16_t)m->iq[i]);
    }
    return w_finish(&w);
}

size_t fb_encode_power(uint8_t *out, size_t out_size, const fb_tx_header_t *h,
                       const fb_power_t *m) {
    writer_t w;
    size_t i;
    if (m->n_samples > FB_MAX_POWER_SAMPLES || (m->n_samples > 0 && m->samples == NULL)) {
        return 0;
    }
    w_init(&w, out, out_size);
    w_header(&w, FB_MSG_POWER, h, 2u + 14u * (size_t)m->n_samples);
    w_u16(&w, m->n_samples);
    for (i = 0; i < m->n_samples; i++) {
        w_u64(&w, m->samples[i].timestamp_us);
        w_u16(&w, m->samples[i].voltage_mv);
        w_u32(&w, (uint32_t)m->samples[i].current_ua);
    }
    return w_finish(&w);
}

size_t fb_encode_heartbeat(uint8_t *out, size_t out_size, const fb_tx_header_t *h,
                           const fb_heartbeat_t *m) {
    writer_t w;
    w_init(&w, out, out_size);
    w_header(&w, FB_MSG_HEARTBEAT, h, 16u);
    w_u32(&w, m->uptime_s);
    w_u32(&w, m->captures_sent);
    w_u32(&w, m->captures_dropped);
    w_u32(&w, m->rx_errors);
    return w_finish(&w);
}

size_t fb_encode_log(uint8_t *out, size_t out_size, const fb_tx_header_t *h, const fb_log_t *m) {
    writer_t w;
    size_t i;
    if (m->text_len > 0 && m->text == NULL) {
        return 0;
    }
    w_init(&w, out, out_size);
    w_header(&w, FB_MSG_LOG, h, 2u + (size_t)m->text_len);
    w_u8(&w, m->level);
    w_u8(&w, m->text_len);
    for (i = 0; i < m->text_len; i++) {
        w_u8(&w, (uint8_t)m->text[i]);
    }
    return w_finish(&w);
}

size_t fb_encode_pong(uint8_t *out, size_t out_size, const fb_tx_header_t *h, uint32_t token) {
    writer_t w;
    w_init(&w, out, out_size);
    w_header(&w, FB_MSG_PONG, h, 4u);
    w_u32(&w, token);
    return w_finish(&w);
}

/* ---- decoding ---- */
long fb_cobs_decode_inplace(uint8_t *buf, size_t len) {
    size_t r = 0, w = 0;
    while (r < len) {
        uint8_t code = buf[r++];
        size_t i;
        if (code == 0 || r + (size_t)code - 1u > len) {
            return -1;
        }
        for (i = 1; i < code; i++) {
            uint8_t b = buf[r++];
            if (b == 0) {
                return -1;
            }
            buf[w++] = b;
        }
        if (code != 0xFFu && r < len) {
            buf[w++] = 0;
        }
    }
    return (long)w;
}

static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t rd_u64(const uint8_t *p) {
    return (uint64_t)rd_u32(p) | ((uint64_t)rd_u32(p + 4) << 32);
}
static float rd_f32(const uint8_t *p) {
    uint32_t bits = rd_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void fb_decoder_init(fb_decoder_t *d) { memset(d, 0, sizeof *d); }

static int size_ok(size_t have, size_t want, int exact) {
    return exact ? have == want : have >= want;
}

static fb_rx_status_t parse_packet(fb_decoder_t *d, size_t n, fb_command_t *out) {
    const uint8_t *p = d->buf;
    const uint8_t *pl = p + FB_HEADER_SIZE;
    size_t payload_len;
    int exact;
    uint16_t seq;
    if (n < FB_HEADER_SIZE + FB_CRC_SIZE) {
        d->stats.framing_errors++;
        return FB_RX_ERR_SHORT;
    }
    if (fb_crc32(0, p, n - FB_CRC_SIZE) != rd_u32(p + n - FB_CRC_SIZE)) {
        d->stats.crc_failures++;
        return FB_RX_ERR_CRC;
    }
    payload_len = rd_u16(p + 6);
    if (payload_len != n - FB_HEADER_SIZE - FB_CRC_SIZE) {
        d->stats.framing_errors++;
        return FB_RX_ERR_LENGTH;
    }
    if (p[0] != FB_PROTOCOL_MAJOR) {
        d->stats.version_mismatches++;
        return FB_RX_ERR_VERSION;
    }
    seq = rd_u16(p + 4);
    if (d->seq_valid && seq != d->expected_seq) {
        d->stats.lost_packets += (uint16_t)(seq - d->expected_seq);
    }
    d->expected_seq = (uint16_t)(seq + 1u);
    d->seq_valid = 1;
    exact = p[1] <= FB_PROTOCOL_MINOR;
    out->version_minor = p[1];
    out->type = p[2];
    out->flags = p[3];
    out->seq = seq;
    out->timestamp_us = rd_u64(p + 8);
    switch (p[2]) {
    case FB_MSG_START:
    case FB_MSG_STOP:
        if (!size_ok(payload_len, 0, exact)) {
            goto bad_payload;
        }
        break;
    case FB_MSG_PING:
        if (!size_ok(payload_len, 4, exact)) {
            goto bad_payload;
        }
        out->u.ping_token = rd_u32(pl);
        break;
    case FB_MSG_CONFIG:
        if (!size_ok(payload_len, 24, exact)) {
            goto bad_payload;
        }
        out->u.config.sample_rate_hz = rd_u32(pl);
        out->u.config.centre_freq_hz = rd_u64(pl + 4);
        out->u.config.gain_db = rd_f32(pl + 12);
        out->u.config.capture_period_ms = rd_u32(pl + 16);
        out->u.config.samples_per_capture = rd_u16(pl + 20);
        out->u.config.power_period_ms = rd_u16(pl + 22);
        if (out->u.config.gain_db != out->u.config.gain_db ||
            out->u.config.gain_db - out->u.config.gain_db != 0.0f) { /* NaN or infinity */
            goto bad_payload;
        }
        break;
    case FB_MSG_RESULT:
        if (!size_ok(payload_len, 16, exact)) {
            goto bad_payload;
        }
        out->u.result.capture_id = rd_u32(pl);
        out->u.result.label_index = rd_u16(pl + 4);
        out->u.result.flags = pl[6];
        out->u.result.confidence = rd_f32(pl + 8);
        out->u.result.latency_us = rd_u32(pl + 12);
        if (!(out->u.result.confidence >= 0.0f && out->u.result.confidence <= 1.0f)) {
            goto bad_payload;
        }
        break;
    default:
        d->stats.unknown_types++;
        return FB_RX_UNKNOWN_TYPE;
    }
    d->stats.packets++;
    return FB_RX_COMMAND;
bad_payload:
    d->stats.framing_errors++;
    return FB_RX_ERR_PAYLOAD;
}

fb_rx_status_t fb_decoder_push(fb_decoder_t *d, uint8_t byte, fb_command_t *out) {
    long n;
    if (byte != 0) {
        if (d->discarding) {
            return FB_RX_NONE;
        }
        if (d->len >= sizeof d->buf) {
            d->discarding = 1;
            d->len = 0;
            d->stats.overflows++;
            return FB_RX_ERR_OVERFLOW;
        }
        d->buf[d->len++] = byte;
        return FB_RX_NONE;
    }
    if (d->discarding) { /* end of an over-long frame, already reported */
        d->discarding = 0;
        return FB_RX_NONE;
    }
    if (d->len == 0) { /* empty frame: padding */
        return FB_RX_NONE;
    }
    n = fb_cobs_decode_inplace(d->buf, d->len);
    d->len = 0;
    if (n < 0) {
        d->stats.framing_errors++;
        return FB_RX_ERR_COBS;
    }
    return parse_packet(d, (size_t)n, out);
}
