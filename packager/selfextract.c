#include "packager/selfextract.h"

#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/text.h"
#include "packager/codec.h"
#include "packager/minify.h"
#include "packager/rename.h"
#include "packager/treeshake.h"

/* What the box build compiles (docs/box.md): training, quantization, packing and the
 * final evaluation, with packager/box/ standing in for the libraries the box lacks, and
 * the CUDA backend (host files built when the CUDA wheels are found; the device module
 * compiled at run time). The headers and the module's .cu files are found by following
 * #include "..." lines. */
static const char *const kBoxSources[] = {
    "packager/box/main.c", "packager/box/dl.c",  "packager/box/json.c",
    "packager/box/include/jansson.h", "packager/box/include/zstd.h",
    "packager/box/include/openssl/evp.h", "packager/box/include/cblas.h",
    "common/err.c",        "common/fileio.c",    "common/parse.c",      "common/progress.c",
    "common/settings.c",   "common/sha256.c",    "common/container.c",  "common/buildinfo.c",
    "common/dist.c",       "common/text.c",      "common/decode_limit.c", "common/dl.c",
    "dataset/loader.c",    "dataset/shard.c",    "dataset/tokenizer.c", "dataset/val.c",
    "kernels/checkpoint.c", "kernels/config.c",  "kernels/eval.c",      "kernels/model.c",
    "kernels/model_block.c", "kernels/model_lora.c", "kernels/model_stack.c",
    "kernels/optim.c",     "kernels/rng.c",      "kernels/ttt.c",       "kernels/ttt_phased.c",
    "kernels/hessian.c",
    "kernels/ttt_settings.c", "kernels/final_eval.c", "kernels/backend_select.c", "kernels/cpu/backend.c",
    "kernels/cpu/elementwise.c", "kernels/cpu/ops.c", "kernels/cpu/optim_ops.c",
    "kernels/cpu/attn_variants.c", "kernels/cpu/embedding_extras.c",
    "kernels/cpu/gemm.c",
    "kernels/cuda/backend.c", "kernels/cuda/module.c", "kernels/cuda/linear.c",
    "kernels/cuda/nccl.c", "kernels/cuda/attention_launch.c", "kernels/cuda/elementwise_launch.c",
    "kernels/cuda/head_launch.c", "kernels/cuda/norm_rope_launch.c",
    "kernels/cuda/optim_launch.c", "kernels/cuda/variants_launch.c", "kernels/cuda/module.cu",
    "train/hparams.c",     "train/train.c",      "train/launch.c",
    "packager/artifact.c", "packager/quantize.c",
    "packager/codec.c",    "packager/ledger.c",  "packager/pack.c",     NULL};

/* The script around the archive (Python's standard library, plus the sentencepiece
 * module the reference also uses): latin-1 so the archive can be raw bytes. It unpacks the
 * archive and runs the body it begins with. */
static const char kScriptHead[] =
    "# -*- coding: latin-1 -*-\n"
    "\"\"\"pgolf submission: C sources built here with the C compiler (pgolf docs/box.md).\n"
    "python3 train_gpt.py, or torchrun --standalone --nproc_per_node=N train_gpt.py: every\n"
    "rank trains (GPUs: CUDA + NCCL from the PyTorch wheels, kernels compiled by NVRTC or nvcc),\n"
    "rank 0 packs and scores. Settings below are defaults; the environment overrides them.\n"
    "A holds this script's body and the sources, as raw LZMA2.\"\"\"\n"
    "import lzma\n";
static const char kScriptTail[] =
    "\nB=lzma.decompress(A.encode('l1'),lzma.FORMAT_RAW,filters=[{'id':33,'dict_size':1<<26}])\n"
    "exec(B[:B.index(0)])\n";

/* The body: unpack the sources after it (B), build, write the pieces table, run. */
static const char kScriptBody[] =
    "import concurrent.futures as cf,glob,os,re,shutil,struct,subprocess as sp,sys,tempfile,time\n"
    "def fail(m):sys.exit('train_gpt.py: '+m)\n"
    "def unpack(d):\n"
    " b=B[B.index(0)+1:];i=t=0\n"
    " while i<len(b):\n"
    "  j=b.find(b'\\n',i);k=b.find(b'\\n',j+1)\n"
    "  if j<0 or k<0 or not b[j+1:k].isdigit():fail('truncated archive')\n"
    "  n=b[i:j].decode('latin-1');z=int(b[j+1:k]);i=k+1+z;t+=z\n"
    "  if not re.fullmatch(r'[\\w.-]+(/[\\w.-]+)*',n) or '..' in n.split('/'):fail('refusing archive entry with an unsafe path: %r'%n)\n"
    "  if z>8<<20 or t>64<<20 or i>len(b):fail('refusing oversize or truncated archive entry: %r'%n)\n"
    "  p=os.path.join(d,n);os.makedirs(os.path.dirname(p),exist_ok=True)\n"
    "  if os.path.exists(p):fail('archive entry appears twice: %r'%n)\n"
    "  with open(p,'wb') as f:f.write(b[k+1:i])\n"
    "def cuda():\n"
    " # headers and libraries of the CUDA wheels PyTorch installs (nvidia-*), else of the toolkit PGOLF_CUDA_HOME names\n"
    " r=[os.environ['PGOLF_CUDA_HOME']] if os.environ.get('PGOLF_CUDA_HOME') else []\n"
    " try:import importlib.util as u;r+=[x+'/'+k for x in u.find_spec('nvidia').submodule_search_locations for k in ('cuda_runtime','cublas','nccl','cuda_nvrtc')]\n"
    " except Exception:pass\n"
    " L={};I=[x+'/include' for x in r if os.path.isdir(x+'/include')]\n"
    " for n in ('cudart','cublasLt','nccl','nvrtc'):\n"
    "  g=[f for x in r for f in sorted(glob.glob(x+'/lib*/lib'+n+'.so*'))]\n"
    "  if g:L[n]=g[0]\n"
    " return (I,L) if len(L)==4 and any(os.path.exists(i+'/cuda_runtime_api.h') for i in I) else None\n"
    "def build(d,cu):\n"
    " cc=os.environ.get('CC','cc');fl=['-std=c11','-O2','-fopenmp','-D_DEFAULT_SOURCE','-D_POSIX_C_SOURCE=200809L','-DPG_BOX','-I'+d,'-I'+d+'/packager/box/include']+os.environ.get('PGOLF_CFLAGS','').split()\n"
    " cs=sorted(os.path.join(r,f) for r,_,fs in os.walk(d) for f in fs if f.endswith('.c') and (cu or not r.endswith('/cuda')));lk=[]\n"
    " if cu:fl+=['-DPGOLF_CUDA']+['-I'+i for i in cu[0]];lk=[cu[1][n] for n in ('cudart','cublasLt')]+['-Wl,-rpath,'+os.path.dirname(cu[1][n]) for n in ('cudart','cublasLt')]\n"
    " def one(c):return sp.run([cc]+fl+['-c',c,'-o',c[:-1]+'o'],stdout=sp.PIPE,stderr=sp.STDOUT,text=True)\n"
    " with cf.ThreadPoolExecutor(os.cpu_count() or 1) as ex:rs=list(ex.map(one,cs))\n"
    " rs.append(sp.run([cc,'-fopenmp','-o',d+'/pgolf-box']+[c[:-1]+'o' for c in cs]+lk+['-lm','-ldl'],stdout=sp.PIPE,stderr=sp.STDOUT,text=True))\n"
    " for r in rs:\n"
    "  if r.returncode:fail('build failed: '+r.stdout[-3000:])\n"
    "def lib(name,mod):\n"
    " # the library a standard module loaded (hashlib: libcrypto), else the linker's pick\n"
    " try:mod and __import__(mod)\n"
    " except ImportError:pass\n"
    " for l in open('/proc/self/maps'):\n"
    "  if '/lib'+name+'.so' in l:return l.split(None,5)[5].strip()\n"
    " import ctypes.util;return ctypes.util.find_library(name) or ''\n"
    "def pieces(src,dst):\n"
    " # what the BPB table needs from the tokenizer: type and text of each piece\n"
    " import sentencepiece;s=sentencepiece.SentencePieceProcessor(model_file=src);o=[b'PGPIECES',struct.pack('<I',s.vocab_size())]\n"
    " for i in range(s.vocab_size()):\n"
    "  p=s.id_to_piece(i).encode();o.append(struct.pack('<BH',2 if s.is_unknown(i) else 3 if s.is_control(i) else 5 if s.is_unused(i) else 6 if s.is_byte(i) else 1,len(p))+p)\n"
    " open(dst,'wb').write(b''.join(o))\n"
    "def main():\n"
    " env=dict(os.environ);r0=not int(env.get('RANK','0'))\n"
    " for k,v in S.items():env.setdefault(k,v)\n"
    " if not env.get('DATA_PATH') or not env.get('TOKENIZER_PATH'):fail('set DATA_PATH and TOKENIZER_PATH')\n"
    " t0=time.time();w=tempfile.mkdtemp(prefix='pgolf-')\n"
    " try:\n"
    "  cu=cuda();unpack(w);build(w,cu)\n"
    "  r0 and print('pgolf_build:%.1fs (cc%s, not in the training time)'%(time.time()-t0,', CUDA from '+os.path.dirname(cu[1]['cudart']) if cu else ', no CUDA found: CPU only'),flush=True)\n"
    "  out=os.path.abspath(env.get('PGOLF_OUT','logs/pgolf_run'));os.makedirs(out,exist_ok=True)\n"
    "  pieces(env['TOKENIZER_PATH'],w+'/pieces.bin')\n"
    "  env.update(TOKENIZER_PATH=w+'/pieces.bin',PGOLF_LIBCRYPTO=lib('crypto','_hashlib'),PGOLF_LIBZSTD=lib('zstd',None),PGOLF_CUDA_SRC=w)\n"
    "  if cu:env.update(PGOLF_NVRTC=cu[1]['nvrtc'],PGOLF_NCCL=cu[1]['nccl'],PGOLF_NVCC=shutil.which('nvcc') or '',LD_LIBRARY_PATH=':'.join([os.path.dirname(f) for f in cu[1].values()]+[env.get('LD_LIBRARY_PATH','')]))\n"
    "  if sp.run([w+'/pgolf-box',os.path.abspath(__file__),out],env=env).returncode:fail('pgolf-box failed')\n"
    " finally:shutil.rmtree(w,ignore_errors=True)\n"
    "if __name__=='__main__':main()\n";

#define MAX_SOURCES 256
#define MAX_SOURCE_BYTES ((size_t)4 << 20)

typedef struct {
    char *path[MAX_SOURCES];
    char *text[MAX_SOURCES]; /* minified, then shrunk */
    size_t len[MAX_SOURCES];
    size_t n;
} source_set;

static void source_set_free(source_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->path[i]);
        free(s->text[i]);
    }
    s->n = 0;
}

static int source_add(source_set *s, const char *root, const char *rel, size_t rel_len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->path[i]) == rel_len && strncmp(s->path[i], rel, rel_len) == 0)
            return 0;
    if (s->n == MAX_SOURCES)
        return pg_fail("%s: more than %d box sources", root, MAX_SOURCES);
    char *name = strndup(rel, rel_len), *full = name ? pg_path_join(root, name) : NULL;
    unsigned char *raw = NULL;
    size_t n = 0;
    int rc = full ? pg_read_file(full, MAX_SOURCE_BYTES, &raw, &n)
                  : pg_fail("%s: out of memory listing the sources", root);
    if (rc == 0)
        rc = pg_c_minify(full, (const char *)raw, n, &s->text[s->n], &s->len[s->n]);
    free(raw);
    free(full);
    if (rc != 0) {
        free(name);
        return -1;
    }
    s->path[s->n++] = name;
    return 0;
}

/* The names the renamer keeps beyond its own rules (packager/rename.h), written by
 * packager/box/extern_names.sh from the system headers the box sources include. */
#define BOX_KEEP_NAMES "packager/box/extern_names.txt"

static const char kIdentChars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The CUDA module's files: the .cu/.cuh files and what they include, transitively. They
 * are compiled at run time and their kernels are found by name, so they keep their names
 * and functions. */
static void mark_device(const source_set *s, pg_csource *src)
{
    for (size_t i = 0; i < s->n; i++)
        src[i].fixed = has_suffix(s->path[i], ".cu") || has_suffix(s->path[i], ".cuh");
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < s->n; i++)
            for (const char *t = s->text[i]; src[i].fixed && (t = strstr(t, "#include \"")); t++)
                for (size_t j = 0; j < s->n; j++) {
                    size_t len = strlen(s->path[j]);
                    if (!src[j].fixed && strncmp(t + 10, s->path[j], len) == 0 && t[10 + len] == '"')
                        src[j].fixed = changed = 1;
                }
    }
}

/* Shrinks the minified sources for the cap (docs/box.md): the functions nothing calls
 * go, the program's own identifiers get short names, and blanks between tokens go where
 * the tokens stay apart. */
static int shrink(const char *root, source_set *s)
{
    pg_csource src[MAX_SOURCES];
    for (size_t i = 0; i < s->n; i++)
        src[i] = (pg_csource){.path = s->path[i], .text = s->text[i], .len = s->len[i]};
    mark_device(s, src);
    char *keep_path = pg_path_join(root, BOX_KEEP_NAMES);
    unsigned char *keep = NULL;
    size_t keep_len = 0;
    int rc = keep_path ? pg_read_file(keep_path, MAX_SOURCE_BYTES, &keep, &keep_len)
                       : pg_fail("%s: out of memory", root);
    free(keep_path);
    pg_text words = {0}; /* the list, and the macros the script defines with -D */
    if (keep)
        pg_text_append(&words, keep, keep_len);
    for (const char *p = kScriptBody; (p = strstr(p, "'-D")) != NULL; p += 3)
        pg_text_printf(&words, "\n%.*s", (int)strspn(p + 3, kIdentChars), p + 3);
    if (rc == 0 && words.oom)
        rc = pg_fail("%s: out of memory", root);
    if (rc == 0)
        rc = pg_c_drop_unused(src, s->n, NULL);
    if (rc == 0)
        rc = pg_c_rename(src, s->n, words.s, words.n, NULL);
    pg_text_free(&words);
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        char *out;
        size_t len;
        rc = pg_c_squeeze(src[i].path, src[i].text, src[i].len, &out, &len);
        if (rc == 0) {
            free(src[i].text);
            src[i].text = out;
            src[i].len = len;
        }
    }
    free(keep);
    for (size_t i = 0; i < s->n; i++) {
        s->text[i] = src[i].text;
        s->len[i] = src[i].len;
    }
    return rc;
}

/* kBoxSources, then every header they include with quotes, transitively; shrunk for the
 * archive when shrunk is set. */
static int box_sources(const char *root, source_set *s, int shrunk)
{
    memset(s, 0, sizeof *s);
    int rc = 0;
    for (int i = 0; rc == 0 && kBoxSources[i]; i++)
        rc = source_add(s, root, kBoxSources[i], strlen(kBoxSources[i]));
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        const char *t = s->text[i];
        while (rc == 0 && (t = strstr(t, "#include \"")) != NULL) {
            t += 10;
            const char *e = strchr(t, '"');
            if (!e)
                break;
            rc = source_add(s, root, t, (size_t)(e - t));
            t = e;
        }
    }
    if (rc == 0 && shrunk)
        rc = shrink(root, s);
    if (rc != 0)
        source_set_free(s);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pg_source_list(const char *root, char ***out, size_t *count)
{
    source_set s;
    if (box_sources(root, &s, 0) != 0)
        return -1;
    char **v = malloc((s.n + 1) * sizeof *v);
    if (!v || !(v[s.n] = strdup(BOX_KEEP_NAMES))) {
        free(v);
        source_set_free(&s);
        return pg_fail("%s: out of memory listing the sources", root);
    }
    for (size_t i = 0; i < s.n; i++) {
        v[i] = s.path[i];
        s.path[i] = NULL;
    }
    *count = s.n + 1;
    source_set_free(&s);
    qsort(v, *count, sizeof *v, cmp_str);
    *out = v;
    return 0;
}

/* LZMA2 at preset 9e without the .xz framing: train_gpt.py decodes it with Python's
 * lzma.decompress(..., FORMAT_RAW, filters=[{'id': FILTER_LZMA2, 'preset': 9 | EXTREME}]). */
static int lzma2_raw(const char *root, const unsigned char *in, size_t n, unsigned char **out,
                     size_t *len)
{
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, 9 | LZMA_PRESET_EXTREME))
        return pg_fail("liblzma: no preset 9e");
    lzma_filter f[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t cap = n + n / 2 + 4096, pos = 0;
    *out = malloc(cap);
    if (!*out)
        return pg_fail("%s: out of memory compressing the sources", root);
    if (lzma_raw_buffer_encode(f, NULL, in, n, *out, &pos, cap) != LZMA_OK) {
        free(*out);
        *out = NULL;
        return pg_fail("%s: liblzma failed to compress the sources", root);
    }
    *len = pos;
    return 0;
}

/* The archive's text before compression, sorted by path; z gets the counts. */
static int archive_text(const char *root, pg_text *t, pg_source_sizes *z)
{
    memset(z, 0, sizeof *z);
    memset(t, 0, sizeof *t);
    source_set s;
    if (box_sources(root, &s, 1) != 0)
        return -1;
    pg_text_append(t, kScriptBody, strlen(kScriptBody) + 1); /* the script's body, its NUL */
    char *sorted[MAX_SOURCES];
    for (size_t i = 0; i < s.n; i++)
        sorted[i] = s.path[i];
    qsort(sorted, s.n, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < s.n; i++) {
        size_t j = 0;
        while (s.path[j] != sorted[i])
            j++;
        char *full = pg_path_join(root, s.path[j]);
        struct stat st;
        if (full && stat(full, &st) == 0)
            z->source_bytes += (size_t)st.st_size;
        free(full);
        pg_text_printf(t, "%s\n%zu\n", s.path[j], s.len[j]);
        pg_text_append(t, s.text[j], s.len[j]);
    }
    z->files = s.n;
    z->minified_bytes = t->n;
    source_set_free(&s);
    if (t->oom) {
        pg_text_free(t);
        return pg_fail("%s: out of memory archiving the sources", root);
    }
    return 0;
}

int pg_source_archive(const char *root, unsigned char **out, size_t *len)
{
    pg_text t;
    pg_source_sizes z;
    *out = NULL;
    if (archive_text(root, &t, &z) != 0)
        return -1;
    int rc = lzma2_raw(root, (const unsigned char *)t.s, t.n, out, len);
    pg_text_free(&t);
    return rc;
}

int pg_source_archive_report(const char *root, pg_source_sizes *z)
{
    pg_text t;
    if (archive_text(root, &t, z) != 0)
        return -1;
    const pg_codec zstd = {PG_CODEC_ZSTD, 22, 0}, brotli = {PG_CODEC_BROTLI, 11, 0};
    unsigned char *buf = NULL;
    int rc = lzma2_raw(root, (const unsigned char *)t.s, t.n, &buf, &z->xz_bytes);
    free(buf);
    buf = NULL;
    if (rc == 0 && (rc = pg_compress(&zstd, (const uint8_t *)t.s, t.n, &buf, &z->zstd_bytes)) == 0)
        free(buf);
    buf = NULL;
    if (rc == 0 && (rc = pg_compress(&brotli, (const uint8_t *)t.s, t.n, &buf, &z->brotli_bytes)) == 0)
        free(buf);
    pg_text_free(&t);
    return rc;
}

/* The archive as a triple-quoted Python latin-1 string literal: every byte is one
 * character except the backslash, CR (which Python would read as LF), NUL ("\0", or "\x00"
 * before an octal digit) and a quote that would end the literal (about 1% more bytes, where
 * base85 would add 25%). */
static void latin1_literal(pg_text *t, const unsigned char *a, size_t n)
{
    pg_text_append(t, "'''", 3);
    for (size_t i = 0; i < n; i++) {
        int next = i + 1 < n ? a[i + 1] : -1;
        const char *esc = a[i] == 0 ? (next >= '0' && next <= '7' ? "\\x00" : "\\0")
                          : a[i] == '\r' ? "\\r"
                          : a[i] == '\\' ? "\\\\"
                          : a[i] == '\'' && (next == '\'' || next < 0) ? "\\'"
                                                                        : NULL;
        if (esc)
            pg_text_append(t, esc, strlen(esc));
        else
            pg_text_append(t, a + i, 1);
    }
    pg_text_append(t, "'''", 3);
}

/* A Python string literal of s (settings are NAME=VALUE without quotes or backslashes). */
static int check_setting(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return pg_fail("setting '%s' is not NAME=VALUE", s);
    for (const char *p = s; *p; p++)
        if (*p == '\'' || *p == '\\' || *p == '\n' || (unsigned char)*p < 32)
            return pg_fail("setting '%s' has a character a baked setting cannot hold", s);
    return 0;
}

int pg_selfextract_write(const char *path, const char *root, const char *const *settings,
                         int nsettings)
{
    unsigned char *arc;
    size_t alen;
    if (pg_source_archive(root, &arc, &alen) != 0)
        return -1;
    int rc = pg_selfextract_write_archive(path, arc, alen, settings, nsettings);
    free(arc);
    return rc;
}

int pg_selfextract_write_archive(const char *path, const unsigned char *arc, size_t alen,
                                 const char *const *settings, int nsettings)
{
    for (int i = 0; i < nsettings; i++)
        if (check_setting(settings[i]) != 0)
            return -1;
    pg_text t = {0};
    pg_text_printf(&t, "%sS={", kScriptHead);
    for (int i = 0; i < nsettings; i++) {
        const char *eq = strchr(settings[i], '=');
        pg_text_printf(&t, "%s'%.*s':'%s'", i ? "," : "", (int)(eq - settings[i]), settings[i],
                       eq + 1);
    }
    pg_text_printf(&t, "}\nA=");
    latin1_literal(&t, arc, alen);
    pg_text_printf(&t, "%s", kScriptTail);
    int rc = t.oom ? pg_fail("%s: out of memory", path) : pg_write_file_atomic(path, t.s, t.n);
    pg_text_free(&t);
    return rc;
}
