/* CSV/TSV logs for ingest: the header line, RFC 4180 fields, and decimal -> float32.
 *
 * The file is read in large blocks into one buffer that always ends with a NUL sentinel, so
 * the scanning loops test one byte at a time without bounds checks; a row cut by the end of
 * the buffer is parsed again after the next read. Numbers in mapped columns are parsed in
 * place: digits into a 64-bit mantissa and a decimal exponent, converted exactly when the
 * mantissa fits 53 bits and |exponent| <= 22 (an exactly rounded double, then float unless that
 * double lies on a float rounding midpoint), by strtof/strtod in the C locale otherwise.
 *
 * Not here: the mapping, episodes, the writer (ingest.c); JSON Lines (jsonl.c). */
#include "formats/ingest_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHOW_CELL 40                  /* characters of a bad cell quoted in a message */
#define PAD       ORL_INGEST_TEXT_PAD /* readable bytes after any text the number scanner reads */

/* ---- decimal -> binary ---- */

/* the digits of a decimal number: value = (-1)^negative * mantissa * 10^exp10 */
typedef struct decimal {
    uint64_t mantissa;
    int32_t exp10;
    uint8_t negative;
    uint8_t many_digits; /* more than 19 digits: mantissa is not exact */
} decimal;

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int is_digit(char c) {
    return (unsigned)(c - '0') < 10u;
}

/* 1 when the 8 bytes at p are all digits, with their value in *v (SWAR: one load, three
 * multiplies, instead of eight dependent steps) */
static inline __attribute__((always_inline)) int eight_digits(const char *p, uint64_t *v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x;
    memcpy(&x, p, sizeof x);
    /* every byte 0x30..0x39: high nibble 3, and still 3 after adding 6 */
    if (((x & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
         (((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) !=
        UINT64_C(0x3333333333333333))
        return 0;
    x -= UINT64_C(0x3030303030303030);
    x = x * 10 + (x >> 8); /* pairs */
    x = ((x & UINT64_C(0x000000FF000000FF)) * (100 + (UINT64_C(1000000) << 32)) +
         ((x >> 16) & UINT64_C(0x000000FF000000FF)) * (1 + (UINT64_C(10000) << 32))) >>
        32;
    *v = x;
    return 1;
#else
    (void)p, (void)v;
    return 0;
#endif
}

/* scans [+-]digits[.digits][(e|E)[+-]digits] at p (at least one digit in the mantissa); an
 * 'e' without exponent digits is not consumed. Returns the end, or NULL if no number starts at
 * p. Reads until a non-digit, and 8 bytes at a time: the text must be followed by a non-digit
 * and PAD readable bytes (the read buffer and the cell copies have them). */
#define HOT static inline __attribute__((always_inline))

HOT const char *decimal_scan(const char *p, decimal *d) {
    d->negative = 0;
    if (*p == '-') {
        d->negative = 1;
        p++;
    } else if (*p == '+') {
        p++;
    }
    /* integer parts are mostly short: digit by digit; fractions 8 digits at a time */
    uint64_t m = 0, eight;
    const char *int0 = p;
    while (is_digit(*p)) m = m * 10 + (uint64_t)(*p++ - '0');
    size_t n_int = (size_t)(p - int0), n_frac = 0;
    if (*p == '.') {
        const char *frac0 = ++p;
        while (eight_digits(p, &eight)) {
            m = m * 100000000 + eight;
            p += 8;
        }
        while (is_digit(*p)) m = m * 10 + (uint64_t)(*p++ - '0');
        n_frac = (size_t)(p - frac0);
    }
    if (n_int + n_frac == 0) return NULL;
    int32_t e = 0;
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int negative_exp = 0;
        if (*q == '-') {
            negative_exp = 1;
            q++;
        } else if (*q == '+') {
            q++;
        }
        if (is_digit(*q)) {
            while (is_digit(*q)) {
                if (e < 100000) e = e * 10 + (*q - '0');
                q++;
            }
            if (negative_exp) e = -e;
            p = q;
        }
    }
    /* leading zeros count as digits here: a rare long number simply takes the slow path */
    d->many_digits = n_int + n_frac > 19;
    d->mantissa = m;
    d->exp10 = e - (int32_t)(n_frac > 1000000 ? 1000000 : n_frac);
    return p;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* strtof/strtod whatever the caller's locale (the decimal point is always '.') */
static float strtof_c(const char *s) {
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    float f = strtof(s, NULL);
    if (c_locale) uselocale(old);
    return f;
}

static double strtod_c(const char *s) {
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    double d = strtod(s, NULL);
    if (c_locale) uselocale(old);
    return d;
}

/* the scanned number starting at start as a float; start must be followed by a byte that ends
 * strtof's parse right where decimal_scan stopped (a delimiter, a line end, a NUL) */
HOT float decimal_float(const decimal *d, const char *start) {
    if (!d->many_digits && d->mantissa <= (UINT64_C(1) << 53) && d->exp10 >= -22 &&
        d->exp10 <= 22) {
        /* Clinger's fast path: both operands exact, so one rounding: x is the double nearest
         * the decimal */
        double x = (double)d->mantissa;
        x = d->exp10 < 0 ? x / pow10_exact[-d->exp10] : x * pow10_exact[d->exp10];
        if (x == 0.0) return d->negative ? -0.0f : 0.0f;
        if (x >= (double)FLT_MIN && x <= (double)FLT_MAX) {
            /* rounding x to float gives the float nearest the decimal unless x lies exactly on
             * a midpoint between two floats (the low 29 of its 52 fraction bits 1000...0):
             * the decimal may then be on either side of it */
            uint64_t bits;
            memcpy(&bits, &x, sizeof bits);
            if ((bits & UINT64_C(0x1FFFFFFF)) != UINT64_C(0x10000000)) {
                float f = (float)x;
                return d->negative ? -f : f;
            }
        }
    }
    return strtof_c(start);
}

static inline double decimal_double(const decimal *d, const char *start) {
    if (!d->many_digits && d->mantissa <= (UINT64_C(1) << 53) && d->exp10 >= -22 &&
        d->exp10 <= 22) {
        double x = (double)d->mantissa;
        x = d->exp10 < 0 ? x / pow10_exact[-d->exp10] : x * pow10_exact[d->exp10];
        return d->negative ? -x : x;
    }
    return strtod_c(start);
}

static int lower(char c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int equal_nocase(const char *a, size_t n, const char *word) {
    size_t i = 0;
    for (; i < n && word[i]; i++)
        if (lower(a[i]) != word[i]) return 0;
    return i == n && word[i] == '\0';
}

int orl_ingest_is_nonfinite_word(const char *text, size_t n) {
    if (n > 0 && (text[0] == '+' || text[0] == '-')) {
        text++;
        n--;
    }
    return equal_nocase(text, n, "nan") || equal_nocase(text, n, "inf") ||
           equal_nocase(text, n, "infinity");
}

/* text NUL-terminated at n */
static int parse_float_z(const char *text, size_t n, float *out) {
    decimal d;
    const char *end = decimal_scan(text, &d);
    if (end == text + n && n > 0) {
        *out = decimal_float(&d, text);
        return 1;
    }
    if (orl_ingest_is_nonfinite_word(text, n)) {
        *out = strtof_c(text);
        return 1;
    }
    return 0;
}

int orl_ingest_parse_double(const char *text, size_t n, double *out) {
    decimal d;
    const char *end = decimal_scan(text, &d);
    if (end == text + n && n > 0) {
        *out = decimal_double(&d, text);
        return 1;
    }
    if (orl_ingest_is_nonfinite_word(text, n)) {
        *out = strtod_c(text);
        return 1;
    }
    return 0;
}

int orl_ingest_parse_flag(const char *text, size_t n, uint8_t *flag, int *nonfinite) {
    *nonfinite = 0;
    if (equal_nocase(text, n, "true")) {
        *flag = 1;
        return 1;
    }
    if (equal_nocase(text, n, "false")) {
        *flag = 0;
        return 1;
    }
    double v;
    if (!orl_ingest_parse_double(text, n, &v)) return 0;
    if (!isfinite(v)) {
        *nonfinite = 1;
        *flag = 0;
        return 1;
    }
    /* done=2 or -1 is not a flag: a typo or a different column, never "set" */
    if (v != 0.0 && v != 1.0) return 0;
    *flag = v == 1.0;
    return 1;
}

int orl_ingest_parse_float(const char *text, size_t n, float *out) {
    /* a NUL-terminated copy: the scanner reads one byte past the number */
    char small[128];
    char *z = n + 1 + PAD <= sizeof small ? small : malloc(n + 1 + PAD);
    if (!z) return 0;
    memcpy(z, text, n);
    memset(z + n, 0, 1 + PAD);
    /* an embedded NUL would end the text early */
    int ok = strlen(z) == n && parse_float_z(z, n, out);
    if (z != small) free(z);
    return ok;
}

/* ---- the CSV source ---- */

typedef struct csv_source {
    orl_ingest_source *src;
    const char *path;
    int fd;
    char *buf; /* (cap + 1 + PAD) data [0, len), a NUL sentinel, padding */
    size_t cap;
    size_t len;
    size_t pos;   /* start of the next row */
    int eof;      /* no more bytes to read */
    int64_t line; /* line number at pos */
    char delim;

    char **names; /* (n_cols) header fields */
    int n_cols;

    char *cell; /* (cell_cap) a quoted or trimmed cell's text */
    size_t cell_cap;
} csv_source;

enum { ROW_OK, ROW_MORE, ROW_END, ROW_FAIL };

/* reads more bytes after the data, first moving the unread part to the front; grows the buffer
 * when a row fills all of it */
static orl_status csv_fill(csv_source *c) {
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->cap - c->len < c->cap / 2) {
        size_t cap = c->cap * 2;
        char *buf = realloc(c->buf, cap + 1 + PAD);
        if (!buf) ORL_FAIL(ORL_ERR_NOMEM, "%s: a row longer than %zu bytes", c->path, c->cap);
        c->buf = buf;
        c->cap = cap;
    }
    for (;;) {
        ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) ORL_FAIL(ORL_ERR_IO, "%s: read failed: %s", c->path, strerror(errno));
        if (got == 0) c->eof = 1;
        c->len += (size_t)got;
        c->src->bytes_read += got;
        break;
    }
    memset(c->buf + c->len, 0, 1 + PAD);
    return ORL_OK;
}

static orl_status cell_reserve(csv_source *c, size_t n) {
    if (n + 1 + PAD <= c->cell_cap) return ORL_OK;
    size_t cap = c->cell_cap ? c->cell_cap : 256;
    while (cap < n + 1 + PAD) cap *= 2;
    char *cell = realloc(c->cell, cap);
    if (!cell) ORL_FAIL(ORL_ERR_NOMEM, "%s: a cell of %zu bytes", c->path, n);
    memset(cell + c->cell_cap, 0, cap - c->cell_cap);
    c->cell = cell;
    c->cell_cap = cap;
    return ORL_OK;
}

/* the bytes of x equal to the byte in every lane of b, as their top bits (exact up to the
 * first match, which is all a scan needs) */
static inline uint64_t bytes_equal(uint64_t x, uint64_t b) {
    uint64_t y = x ^ b;
    return (y - UINT64_C(0x0101010101010101)) & ~y & UINT64_C(0x8080808080808080);
}

/* the end of an unquoted cell: the delimiter, a line end, or the end of the data. Looks at 8
 * bytes at a time (the buffer has PAD bytes after its sentinel). */
HOT const char *skip_cell(const char *p, const char *end, char delim) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t lanes = UINT64_C(0x0101010101010101);
    const uint64_t d = lanes * (unsigned char)delim, lf = lanes * '\n', cr = lanes * '\r';
    for (;;) {
        uint64_t x;
        memcpy(&x, p, sizeof x);
        uint64_t hit =
            bytes_equal(x, d) | bytes_equal(x, lf) | bytes_equal(x, cr) | bytes_equal(x, 0);
        if (!hit) {
            p += 8;
            continue;
        }
        p += __builtin_ctzll(hit) / 8;
        if (*p != '\0' || p == end) return p;
        p++; /* a NUL byte inside the data is cell text */
    }
#else
    for (;;) {
        char ch = *p;
        if (ch == delim || ch == '\n' || ch == '\r' || (ch == '\0' && p == end)) return p;
        p++;
    }
#endif
}

static int is_blank(char c) {
    return c == ' ' || c == '\t';
}

/* a cell's text for a message: at most SHOW_CELL characters, control bytes as '?' */
static void show_cell(const char *text, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < SHOW_CELL; i++)
        out[k++] = (unsigned char)text[i] < 0x20 ? '?' : text[i];
    if (n > SHOW_CELL && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* the same between quotes: 'nan' */
static void quote_cell(const char *text, size_t n, char *out, size_t cap) {
    char shown[64];
    show_cell(text, n, shown, sizeof shown);
    snprintf(out, cap, "'%s'", shown);
}

/* where a cell is, for messages */
typedef struct cell_at {
    int64_t line;
    int64_t col; /* 1-based byte column of the cell's first byte */
    int field;   /* 0-based field index */
} cell_at;

static const char *field_name(const csv_source *c, int field) {
    return field < c->n_cols ? c->names[field] : "";
}

static orl_status nonfinite_cell(const csv_source *c, orl_ingest_row *row, cell_at at,
                                 const char *what) {
    if (!c->src->binding.on_nan_error) {
        row->nonfinite = 1;
        return ORL_OK;
    }
    ORL_FAIL(ORL_ERR_INPUT,
             "%s:%lld:%lld: column '%s': %s is not a finite number (--on-nan drop-episode drops "
             "its episode instead)",
             c->path, (long long)at.line, (long long)at.col, field_name(c, at.field), what);
}

static orl_status not_a_number(const csv_source *c, cell_at at, const char *text, size_t n,
                               const char *expected) {
    char shown[64];
    show_cell(text, n, shown, sizeof shown);
    ORL_FAIL(ORL_ERR_INPUT, "%s:%lld:%lld: column '%s': expected %s, got '%s'", c->path,
             (long long)at.line, (long long)at.col, field_name(c, at.field), expected, shown);
}

/* a mapped cell's value from its text (text NUL-terminated at n; quoted cells unquoted) */
static orl_status cell_value(csv_source *c, orl_ingest_row *row, const orl_ingest_target *t,
                             cell_at at, char *text, size_t n) {
    if (t->kind == ORL_INGEST_KIND_EPISODE) return orl_ingest_row_set_episode(row, text, n);
    /* numbers may have blanks around them */
    while (n > 0 && is_blank(text[n - 1])) text[--n] = '\0';
    while (n > 0 && is_blank(*text)) {
        text++;
        n--;
    }
    if (n == 0) {
        /* a missing value: NaN, and no flag, so the row's episode boundaries stay defined */
        if (t->kind == ORL_INGEST_KIND_VALUE) row->val[t->slot] = NAN;
        if (t->kind == ORL_INGEST_KIND_TIME) row->time = NAN;
        if (t->kind == ORL_INGEST_KIND_TERMINAL) row->terminal = 0;
        if (t->kind == ORL_INGEST_KIND_TIMEOUT) row->timeout = 0;
        if (t->kind == ORL_INGEST_KIND_ACTION_INDEX) row->act_idx = 0;
        return nonfinite_cell(c, row, at, "an empty cell (a missing value)");
    }
    char shown[72];
    switch (t->kind) {
    case ORL_INGEST_KIND_VALUE: {
        float v;
        if (!parse_float_z(text, n, &v)) return not_a_number(c, at, text, n, "a number");
        row->val[t->slot] = v;
        if (isfinite(v)) return ORL_OK;
        quote_cell(text, n, shown, sizeof shown);
        return nonfinite_cell(c, row, at, shown);
    }
    case ORL_INGEST_KIND_TIME: {
        double v;
        if (!orl_ingest_parse_double(text, n, &v)) return not_a_number(c, at, text, n, "a time");
        row->time = v;
        if (isfinite(v)) return ORL_OK;
        quote_cell(text, n, shown, sizeof shown);
        return nonfinite_cell(c, row, at, shown);
    }
    case ORL_INGEST_KIND_TERMINAL:
    case ORL_INGEST_KIND_TIMEOUT: {
        uint8_t flag;
        int nan_flag = 0;
        if (n == 1 && (text[0] == '0' || text[0] == '1'))
            flag = (uint8_t)(text[0] - '0');
        else if (!orl_ingest_parse_flag(text, n, &flag, &nan_flag))
            return not_a_number(c, at, text, n, "0, 1, true or false");
        if (t->kind == ORL_INGEST_KIND_TERMINAL)
            row->terminal = flag;
        else
            row->timeout = flag;
        if (!nan_flag) return ORL_OK;
        quote_cell(text, n, shown, sizeof shown);
        return nonfinite_cell(c, row, at, shown);
    }
    case ORL_INGEST_KIND_ACTION_INDEX: {
        double v;
        if (!orl_ingest_parse_double(text, n, &v))
            return not_a_number(c, at, text, n, "an action index");
        if (isnan(v)) {
            quote_cell(text, n, shown, sizeof shown);
            row->act_idx = 0;
            return nonfinite_cell(c, row, at, shown);
        }
        int32_t n_actions = c->src->binding.n_actions;
        if (v != floor(v) || v < 0 || v > (double)INT32_MAX ||
            (n_actions > 0 && v >= (double)n_actions)) {
            show_cell(text, n, shown, sizeof shown);
            if (n_actions > 0)
                ORL_FAIL(ORL_ERR_INPUT,
                         "%s:%lld:%lld: column '%s': action '%s' is not an integer in [0, %d)",
                         c->path, (long long)at.line, (long long)at.col, field_name(c, at.field),
                         shown, n_actions);
            ORL_FAIL(ORL_ERR_INPUT,
                     "%s:%lld:%lld: column '%s': action '%s' is not a non-negative integer",
                     c->path, (long long)at.line, (long long)at.col, field_name(c, at.field),
                     shown);
        }
        row->act_idx = (int32_t)v;
        return ORL_OK;
    }
    default:
        return ORL_OK;
    }
}

/* parses one row at c->pos. ROW_MORE: the row runs past the data read so far (nothing is
 * consumed); ROW_END: no more rows; ROW_FAIL: *st holds the failure. Empty lines are skipped. */
static int csv_row(csv_source *c, orl_ingest_row *row, orl_status *st) {
    static const orl_ingest_target skip = {ORL_INGEST_KIND_SKIP, 0};
    const orl_ingest_target *targets = c->src->binding.targets;
    const char delim = c->delim;
    const int n_cols = c->n_cols, eof = c->eof;
    const char *end = c->buf + c->len;
    const char *p = c->buf + c->pos;
    int64_t line = c->line;

    /* empty lines */
    for (;;) {
        if (*p == '\n') {
            p++;
        } else if (*p == '\r') {
            if (p + 1 == end && !eof) break;
            p += p[1] == '\n' ? 2 : 1;
        } else {
            break;
        }
        line++;
        c->pos = (size_t)(p - c->buf);
        c->line = line;
    }
    if (p == end) return eof ? ROW_END : ROW_MORE;
    if (*p == '\r') return ROW_MORE;

    const char *line_start = p;
    row->line = line;
    row->nonfinite = 0;
    int field = 0;
    for (;; field++) {
        const orl_ingest_target *t = field < n_cols ? &targets[field] : &skip;
        const char *cell = p;
        if (*p == '"') {
            /* quoted: "" is a quote, delimiters and line ends are text */
            cell_at at = {line, (int64_t)(cell - line_start) + 1, field};
            size_t k = 0;
            p++;
            for (;;) {
                char ch = *p;
                if (ch == '"') {
                    if (p + 1 == end && !eof) return ROW_MORE;
                    if (p[1] != '"') break;
                    p++;
                } else if (ch == '\0' && p == end) {
                    if (!eof) return ROW_MORE;
                    *st = orl_error_set(ORL_ERR_INPUT,
                                        "%s:%lld:%lld: column '%s': unterminated quote (the "
                                        "field runs to the end of the file)",
                                        c->path, (long long)at.line, (long long)at.col,
                                        field_name(c, field));
                    return ROW_FAIL;
                } else if (ch == '\n') {
                    line++;
                    line_start = p + 1;
                }
                if (t->kind != ORL_INGEST_KIND_SKIP) {
                    if (k + 1 + PAD >= c->cell_cap && (*st = cell_reserve(c, k + 1)) != ORL_OK)
                        return ROW_FAIL;
                    c->cell[k++] = ch;
                }
                p++;
            }
            p++; /* the closing quote */
            char after = *p;
            if (after != delim && after != '\n' && after != '\r' && !(after == '\0' && p == end)) {
                char shown[8];
                show_cell(p, 1, shown, sizeof shown);
                *st = orl_error_set(ORL_ERR_INPUT,
                                    "%s:%lld:%lld: column '%s': unexpected '%s' after the closing "
                                    "quote (a quote inside a quoted field is written \"\")",
                                    c->path, (long long)line, (long long)(p - line_start) + 1,
                                    field_name(c, field), shown);
                return ROW_FAIL;
            }
            if (p == end && !eof) return ROW_MORE;
            if (t->kind != ORL_INGEST_KIND_SKIP) {
                if ((*st = cell_reserve(c, k)) != ORL_OK) return ROW_FAIL;
                c->cell[k] = '\0';
                if ((*st = cell_value(c, row, t, at, c->cell, k)) != ORL_OK) return ROW_FAIL;
            }
        } else if (t->kind == ORL_INGEST_KIND_VALUE) {
            /* the hot path: a number parsed in place, ended by a delimiter or a line end */
            decimal d;
            const char *q = decimal_scan(p, &d);
            if (q && (*q == delim || *q == '\n' || *q == '\r' || q == end)) {
                if (q == end && !eof) return ROW_MORE;
                float v = decimal_float(&d, p);
                row->val[t->slot] = v;
                p = q;
                if (!isfinite(v)) {
                    cell_at at = {line, (int64_t)(cell - line_start) + 1, field};
                    char shown[72];
                    quote_cell(cell, (size_t)(q - cell), shown, sizeof shown);
                    if ((*st = nonfinite_cell(c, row, at, shown)) != ORL_OK) return ROW_FAIL;
                }
            } else {
                p = skip_cell(p, end, delim);
                if (p == end && !eof) return ROW_MORE;
                size_t n = (size_t)(p - cell);
                if ((*st = cell_reserve(c, n)) != ORL_OK) return ROW_FAIL;
                memcpy(c->cell, cell, n);
                c->cell[n] = '\0';
                cell_at at = {line, (int64_t)(cell - line_start) + 1, field};
                if ((*st = cell_value(c, row, t, at, c->cell, n)) != ORL_OK) return ROW_FAIL;
            }
        } else {
            p = skip_cell(p, end, delim);
            if (p == end && !eof) return ROW_MORE;
            if (t->kind != ORL_INGEST_KIND_SKIP) {
                size_t n = (size_t)(p - cell);
                if ((*st = cell_reserve(c, n)) != ORL_OK) return ROW_FAIL;
                memcpy(c->cell, cell, n);
                c->cell[n] = '\0';
                cell_at at = {line, (int64_t)(cell - line_start) + 1, field};
                if ((*st = cell_value(c, row, t, at, c->cell, n)) != ORL_OK) return ROW_FAIL;
            }
        }

        /* after the cell: a delimiter, or the end of the row */
        if (*p == delim) {
            if (field + 1 == n_cols) {
                /* one field too many: count them all for the message */
                const char *extra = p + 1;
                int fields = field + 1;
                while (*p == delim) {
                    p++;
                    fields++;
                    if (*p == '"') {
                        p++;
                        while (!(*p == '"' && p[1] != '"') && !(*p == '\0' && p == end))
                            p += *p == '"' ? 2 : 1;
                        if (*p == '"') p++;
                    }
                    p = skip_cell(p, end, delim);
                }
                if (p == end && !eof) return ROW_MORE;
                *st = orl_error_set(ORL_ERR_INPUT,
                                    "%s:%lld:%lld: row has %d fields, the header has %d (an "
                                    "unquoted delimiter '%s' in a field?)",
                                    c->path, (long long)line, (long long)(extra - line_start) + 1,
                                    fields, n_cols, delim == '\t' ? "\\t" : (char[]){delim, 0});
                return ROW_FAIL;
            }
            p++;
            continue;
        }
        if (field + 1 < n_cols) {
            *st = orl_error_set(ORL_ERR_INPUT,
                                "%s:%lld:%lld: row has %d fields, the header has %d (missing: "
                                "'%s'%s)",
                                c->path, (long long)line, (long long)(p - line_start) + 1,
                                field + 1, n_cols, field_name(c, field + 1),
                                field + 2 < n_cols ? " and after" : "");
            return ROW_FAIL;
        }
        if (*p == '\r') {
            if (p + 1 == end && !eof) return ROW_MORE;
            p += p[1] == '\n' ? 2 : 1;
        } else if (*p == '\n') {
            p++;
        }
        break;
    }
    c->pos = (size_t)(p - c->buf);
    c->line = line + 1;
    return ROW_OK;
}

static orl_status csv_next_row(void *impl, orl_ingest_row *row, int *got) {
    csv_source *c = impl;
    *got = 0;
    for (;;) {
        orl_status st = ORL_OK;
        int r = csv_row(c, row, &st);
        if (r == ROW_OK) {
            *got = 1;
            return ORL_OK;
        }
        if (r == ROW_END) return ORL_OK;
        if (r == ROW_FAIL) return st;
        ORL_TRY(csv_fill(c));
    }
}

static void csv_close(void *impl) {
    csv_source *c = impl;
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    if (c->names)
        for (int i = 0; i < c->n_cols; i++) free(c->names[i]);
    free(c->names);
    free(c->buf);
    free(c->cell);
    free(c);
}

static const orl_ingest_source_ops csv_ops = {csv_next_row, csv_close};

/* the delimiter of the header line [p, end): the most frequent of ',' '\t' ';' outside
 * quotes, ',' when none occurs */
static char sniff_delimiter(const char *p, const char *end) {
    static const char candidates[3] = {',', '\t', ';'};
    int counts[3] = {0, 0, 0}, quoted = 0;
    for (; p < end; p++) {
        if (*p == '"') quoted = !quoted;
        if (quoted) continue;
        for (int i = 0; i < 3; i++) counts[i] += *p == candidates[i];
    }
    int best = 0;
    for (int i = 1; i < 3; i++)
        if (counts[i] > counts[best]) best = i;
    return candidates[best];
}

/* the header record at c->pos: reads until a line end outside quotes; fills *end_out */
static orl_status header_record(csv_source *c, size_t *end_out) {
    for (;;) {
        int quoted = 0;
        size_t i = c->pos;
        for (; i < c->len; i++) {
            char ch = c->buf[i];
            if (ch == '"') quoted = !quoted;
            if (!quoted && (ch == '\n' || ch == '\r')) break;
        }
        /* a '\r' last in the buffer may be half of a "\r\n" */
        if ((i < c->len && !(c->buf[i] == '\r' && i + 1 == c->len)) || c->eof) {
            *end_out = i;
            return ORL_OK;
        }
        ORL_TRY(csv_fill(c));
    }
}

static orl_status add_name(csv_source *c, const char *text, size_t n, int *cap) {
    while (n > 0 && is_blank(text[n - 1])) n--;
    while (n > 0 && is_blank(*text)) {
        text++;
        n--;
    }
    if (c->n_cols == *cap) {
        int grown = *cap ? *cap * 2 : 64;
        char **names = realloc(c->names, (size_t)grown * sizeof *names);
        if (!names) ORL_FAIL(ORL_ERR_NOMEM, "%s: header", c->path);
        c->names = names;
        *cap = grown;
    }
    char *name = malloc(n + 1);
    if (!name) ORL_FAIL(ORL_ERR_NOMEM, "%s: header", c->path);
    memcpy(name, text, n);
    name[n] = '\0';
    c->names[c->n_cols++] = name;
    return ORL_OK;
}

/* splits the header record [c->pos, rec_end) into names; consumes it and its line end */
static orl_status read_header(csv_source *c, size_t rec_end) {
    const char *p = c->buf + c->pos, *end = c->buf + rec_end;
    const long long line = (long long)c->line;
    int cap = 0;
    for (;;) {
        const char *cell = p;
        if (*p == '"' && p < end) {
            size_t k = 0;
            p++;
            for (; p < end; p++) {
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"')
                        p++;
                    else
                        break;
                }
                ORL_TRY(cell_reserve(c, k + 1));
                c->cell[k++] = *p;
            }
            if (p >= end)
                ORL_FAIL(ORL_ERR_INPUT,
                         "%s:%lld:%lld: unterminated quote in the header (the field runs to the "
                         "end of the file)",
                         c->path, line, (long long)(cell - (c->buf + c->pos)) + 1);
            p++;
            if (p < end && *p != c->delim)
                ORL_FAIL(ORL_ERR_INPUT,
                         "%s:%lld:%lld: unexpected '%c' after a closing quote in the header",
                         c->path, line, (long long)(p - (c->buf + c->pos)) + 1, *p);
            ORL_TRY(add_name(c, c->cell ? c->cell : "", k, &cap));
        } else {
            while (p < end && *p != c->delim) p++;
            ORL_TRY(add_name(c, cell, (size_t)(p - cell), &cap));
        }
        if (p >= end) break;
        p++; /* the delimiter */
    }
    /* the line end; quoted line ends inside the header count as lines */
    for (size_t i = c->pos; i < rec_end; i++) c->line += c->buf[i] == '\n';
    if (rec_end < c->len && c->buf[rec_end] == '\r') rec_end++;
    if (rec_end < c->len && c->buf[rec_end] == '\n') rec_end++;
    c->pos = rec_end;
    c->line++;
    return ORL_OK;
}

orl_status orl_ingest_csv_open(const char *path, char delimiter, orl_ingest_source *src) {
    memset(src, 0, sizeof *src);
    csv_source *c = calloc(1, sizeof *c);
    if (!c) ORL_FAIL(ORL_ERR_NOMEM, "%s: parser", path);
    c->src = src;
    c->path = path;
    c->line = 1;
    c->fd = open(path, O_RDONLY);
    orl_status st = ORL_OK;
    if (c->fd < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    c->cap = orl_ingest_read_cap(c->fd);
    c->buf = malloc(c->cap + 1 + PAD); /* csv_fill clears the bytes after the data */
    if (!c->buf) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "%s: read buffer", path);
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    c->buf[0] = '\0';
    ORL_TRY_GOTO(st, fail, csv_fill(c));

    /* a UTF-8 byte order mark, then blank lines before the header */
    if (c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0) c->pos = 3;
    for (;;) {
        while (c->pos < c->len &&
               (c->buf[c->pos] == '\n' || c->buf[c->pos] == '\r' || is_blank(c->buf[c->pos]))) {
            if (c->buf[c->pos] == '\n') c->line++;
            c->pos++;
        }
        if (c->pos < c->len || c->eof) break;
        ORL_TRY_GOTO(st, fail, csv_fill(c));
    }
    if (c->pos == c->len)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "%s: empty file (expected a header line)", path);
    size_t rec_end;
    ORL_TRY_GOTO(st, fail, header_record(c, &rec_end));
    c->delim = delimiter ? delimiter : sniff_delimiter(c->buf + c->pos, c->buf + rec_end);
    ORL_TRY_GOTO(st, fail, read_header(c, rec_end));

    src->ops = &csv_ops;
    src->impl = c;
    src->n_cols = c->n_cols;
    src->names = c->names;
    return ORL_OK;
fail:
    csv_close(c);
    memset(src, 0, sizeof *src);
    return st;
}
