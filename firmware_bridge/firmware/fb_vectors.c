/* fb_vectors - test driver for fb_codec: one command per stdin line, one answer per line.
 *
 *   HELLO seq ts flags pmaj pmin fmaj fmin fpatch device_id rate fmt spc freq caps
 *         boot_id state capture_period_ms power_period_ms
 *   CAPTURE seq ts flags capture_id rate freq gain_db fmt n iq_hex(little-endian int16, or -)
 *   POWER seq ts flags n [timestamp_us voltage_mv current_ua]...
 *   HEARTBEAT seq ts flags uptime_s sent dropped rx_errors boot_id host_packets_lost state
 *   LOG seq ts flags level text_hex(or -)
 *   PONG seq ts flags token
 *   TIME_REPLY seq ts flags t1_us t2_us t3_us
 *      -> the encoded frame as lowercase hex, or "ERR encode"
 *   DECODE hex   -> one line per non-NONE decoder result ("OK key=value ..." or "ERR status"),
 *                   then "END"; the decoder state persists across DECODE lines
 *   STATS        -> the decoder's counters as "key=value ...", then "END"
 *   RESET        -> re-initialise the decoder, prints "END"
 */
#include "fb_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 40000

static char line[LINE_MAX_BYTES];
static uint8_t frame[FB_MAX_FRAME_SIZE];
static int16_t iq[2 * FB_MAX_CAPTURE_SAMPLES];
static fb_power_sample_t power[FB_MAX_POWER_SAMPLES];
static char text[FB_MAX_LOG_TEXT + 1];
static fb_decoder_t decoder;

static unsigned long long next_u(char **save) {
    char *tok = strtok_r(NULL, " \t\r\n", save);
    return tok ? strtoull(tok, NULL, 0) : 0ull;
}
static long long next_i(char **save) {
    char *tok = strtok_r(NULL, " \t\r\n", save);
    return tok ? strtoll(tok, NULL, 0) : 0ll;
}
static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
/* decode hex into out (at most cap bytes); returns byte count or -1 */
static long unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    if (s == NULL || strcmp(s, "-") == 0) return 0;
    while (s[0] && s[1]) {
        int hi = hexval(s[0]), lo = hexval(s[1]);
        if (hi < 0 || lo < 0 || n >= cap) return -1;
        out[n++] = (uint8_t)(hi * 16 + lo);
        s += 2;
    }
    return (long)n;
}
static void print_frame(size_t n) {
    size_t i;
    if (n == 0) {
        puts("ERR encode");
        return;
    }
    for (i = 0; i < n; i++) printf("%02x", frame[i]);
    putchar('\n');
}
static void print_command(const fb_command_t *c) {
    printf("OK type=%u seq=%u timestamp_us=%llu flags=%u", c->type, c->seq,
           (unsigned long long)c->timestamp_us, c->flags);
    switch (c->type) {
    case FB_MSG_PING: printf(" token=%lu", (unsigned long)c->u.ping_token); break;
    case FB_MSG_TIME_REQUEST: printf(" t1_us=%llu", (unsigned long long)c->u.time_t1_us); break;
    case FB_MSG_CONFIG:
        printf(" sample_rate_hz=%lu centre_freq_hz=%llu gain_db=%.17g capture_period_ms=%lu"
               " samples_per_capture=%u power_period_ms=%u",
               (unsigned long)c->u.config.sample_rate_hz,
               (unsigned long long)c->u.config.centre_freq_hz, (double)c->u.config.gain_db,
               (unsigned long)c->u.config.capture_period_ms, c->u.config.samples_per_capture,
               c->u.config.power_period_ms);
        break;
    case FB_MSG_RESULT:
        printf(" capture_id=%lu label_index=%u confidence=%.17g latency_us=%lu result_flags=%u",
               (unsigned long)c->u.result.capture_id, c->u.result.label_index,
               (double)c->u.result.confidence, (unsigned long)c->u.result.latency_us,
               c->u.result.flags);
        if (c->u.result.has_context) {
            printf(" ctx_precision_e4=%u ctx_ci_low_e4=%u ctx_ci_high_e4=%u ctx_n=%u",
                   c->u.result.ctx_precision_e4, c->u.result.ctx_ci_low_e4,
                   c->u.result.ctx_ci_high_e4, c->u.result.ctx_n);
        }
        break;
    default: break;
    }
    putchar('\n');
}
static const char *status_name(fb_rx_status_t s) {
    switch (s) {
    case FB_RX_ERR_COBS: return "cobs";
    case FB_RX_ERR_SHORT: return "short";
    case FB_RX_ERR_LENGTH: return "length";
    case FB_RX_ERR_CRC: return "crc";
    case FB_RX_ERR_PAYLOAD: return "payload";
    case FB_RX_ERR_OVERFLOW: return "overflow";
    case FB_RX_ERR_VERSION: return "version";
    case FB_RX_UNKNOWN_TYPE: return "unknown";
    case FB_RX_DUPLICATE: return "duplicate";
    default: return "?";
    }
}

int main(void) {
    fb_decoder_init(&decoder);
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \t\r\n", &save);
        fb_tx_header_t h;
        if (cmd == NULL) continue;
        if (strcmp(cmd, "RESET") == 0) {
            fb_decoder_init(&decoder);
            puts("END");
            fflush(stdout);
            continue;
        }
        if (strcmp(cmd, "STATS") == 0) {
            const fb_rx_stats_t *st = &decoder.stats;
            printf("packets=%lu crc_failures=%lu framing_errors=%lu overflows=%lu "
                   "lost_packets=%lu unknown_types=%lu version_mismatches=%lu duplicates=%lu "
                   "host_restarts=%lu\n",
                   (unsigned long)st->packets, (unsigned long)st->crc_failures,
                   (unsigned long)st->framing_errors, (unsigned long)st->overflows,
                   (unsigned long)st->lost_packets, (unsigned long)st->unknown_types,
                   (unsigned long)st->version_mismatches, (unsigned long)st->duplicates,
                   (unsigned long)st->host_restarts);
            puts("END");
            fflush(stdout);
            continue;
        }
        if (strcmp(cmd, "DECODE") == 0) {
            char *hex = strtok_r(NULL, " \t\r\n", &save);
            size_t i;
            for (i = 0; hex != NULL && hex[i] && hex[i + 1]; i += 2) {
                fb_command_t c;
                fb_rx_status_t s;
                int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
                if (hi < 0 || lo < 0) break;
                s = fb_decoder_push(&decoder, (uint8_t)(hi * 16 + lo), &c);
                if (s == FB_RX_COMMAND) print_command(&c);
                else if (s != FB_RX_NONE) printf("ERR %s\n", status_name(s));
            }
            puts("END");
            fflush(stdout);
            continue;
        }
        h.seq = (uint16_t)next_u(&save);
        h.timestamp_us = (uint64_t)next_u(&save);
        h.flags = (uint8_t)next_u(&save);
        if (strcmp(cmd, "HELLO") == 0) {
            fb_hello_t m;
            m.protocol_major = (uint8_t)next_u(&save);
            m.protocol_minor = (uint8_t)next_u(&save);
            m.firmware_major = (uint8_t)next_u(&save);
            m.firmware_minor = (uint8_t)next_u(&save);
            m.firmware_patch = (uint16_t)next_u(&save);
            m.device_id = (uint64_t)next_u(&save);
            m.sample_rate_hz = (uint32_t)next_u(&save);
            m.sample_format = (uint8_t)next_u(&save);
            m.samples_per_capture = (uint16_t)next_u(&save);
            m.centre_freq_hz = (uint64_t)next_u(&save);
            m.capabilities = (uint32_t)next_u(&save);
            m.boot_id = (uint32_t)next_u(&save);
            m.state = (uint8_t)next_u(&save);
            m.capture_period_ms = (uint32_t)next_u(&save);
            m.power_period_ms = (uint16_t)next_u(&save);
            print_frame(fb_encode_hello(frame, sizeof frame, &h, &m));
        } else if (strcmp(cmd, "CAPTURE") == 0) {
            fb_capture_t m;
            uint8_t raw[4 * FB_MAX_CAPTURE_SAMPLES];
            long nb, i;
            char *tok;
            m.capture_id = (uint32_t)next_u(&save);
            m.sample_rate_hz = (uint32_t)next_u(&save);
            m.centre_freq_hz = (uint64_t)next_u(&save);
            tok = strtok_r(NULL, " \t\r\n", &save);
            m.gain_db = tok ? (float)strtod(tok, NULL) : 0.0f;
            m.sample_format = (uint8_t)next_u(&save);
            m.n_samples = (uint16_t)next_u(&save);
            nb = unhex(strtok_r(NULL, " \t\r\n", &save), raw, sizeof raw);
            if (nb < 0 || nb != 4L * m.n_samples) {
                puts("ERR encode");
                continue;
            }
            for (i = 0; i < nb / 2; i++) iq[i] = (int16_t)(uint16_t)(raw[2 * i] | (raw[2 * i + 1] << 8));
            m.iq = iq;
            print_frame(fb_encode_capture(frame, sizeof frame, &h, &m));
        } else if (strcmp(cmd, "POWER") == 0) {
            fb_power_t m;
            unsigned long long n = next_u(&save), i;
            if (n > FB_MAX_POWER_SAMPLES) {
                puts("ERR encode");
                continue;
            }
            for (i = 0; i < n; i++) {
                power[i].timestamp_us = (uint64_t)next_u(&save);
                power[i].voltage_mv = (uint16_t)next_u(&save);
                power[i].current_ua = (int32_t)next_i(&save);
            }
            m.n_samples = (uint16_t)n;
            m.samples = power;
            print_frame(fb_encode_power(frame, sizeof frame, &h, &m));
        } else if (strcmp(cmd, "HEARTBEAT") == 0) {
            fb_heartbeat_t m;
            m.uptime_s = (uint32_t)next_u(&save);
            m.captures_sent = (uint32_t)next_u(&save);
            m.captures_dropped = (uint32_t)next_u(&save);
            m.rx_errors = (uint32_t)next_u(&save);
            m.boot_id = (uint32_t)next_u(&save);
            m.host_packets_lost = (uint32_t)next_u(&save);
            m.state = (uint8_t)next_u(&save);
            print_frame(fb_encode_heartbeat(frame, sizeof frame, &h, &m));
        } else if (strcmp(cmd, "LOG") == 0) {
            fb_log_t m;
            long nb;
            m.level = (uint8_t)next_u(&save);
            nb = unhex(strtok_r(NULL, " \t\r\n", &save), (uint8_t *)text, FB_MAX_LOG_TEXT);
            if (nb < 0) {
                puts("ERR encode");
                continue;
            }
            m.text_len = (uint8_t)nb;
            m.text = text;
            print_frame(fb_encode_log(frame, sizeof frame, &h, &m));
        } else if (strcmp(cmd, "PONG") == 0) {
            print_frame(fb_encode_pong(frame, sizeof frame, &h, (uint32_t)next_u(&save)));
        } else if (strcmp(cmd, "TIME_REPLY") == 0) {
            uint64_t t1 = (uint64_t)next_u(&save), t2 = (uint64_t)next_u(&save);
            uint64_t t3 = (uint64_t)next_u(&save);
            print_frame(fb_encode_time_reply(frame, sizeof frame, &h, t1, t2, t3));
        } else {
            puts("ERR command");
        }
        fflush(stdout);
    }
    return 0;
}
