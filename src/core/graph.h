/* The graph IR: values (edges) and nodes over one op table.
 *
 * Every stage — import, passes, compression, training, runtime, export —
 * reads and writes this structure. Values are addressed by index; a node's
 * absent optional input is index -1. Constants (initializers, folded values)
 * are values whose `init` tensor is non-NULL. */
#ifndef MN_CORE_GRAPH_H
#define MN_CORE_GRAPH_H

#include "minnow/minnow.h"
#include "core/status.h"
#include "ops/opcodes.h"

typedef enum mn_attr_type {
    MN_ATTR_UNDEF = 0,
    MN_ATTR_FLOAT = 1,
    MN_ATTR_INT = 2,
    MN_ATTR_STRING = 3,
    MN_ATTR_TENSOR = 4,
    MN_ATTR_FLOATS = 6,
    MN_ATTR_INTS = 7,
    MN_ATTR_STRINGS = 8,
    MN_ATTR_GRAPH = 5, /* imported as unsupported */
    MN_ATTR_COUNT = 16
} mn_attr_type; /* values are ONNX AttributeProto.AttributeType numbers */

typedef struct mn_attr {
    char *name;
    mn_attr_type type;
    float f;
    int64_t i;
    char *s;            /* STRING (NUL-terminated; may contain no NUL) */
    int64_t *ints;
    float *floats;
    char **strings;
    int n;              /* count for INTS/FLOATS/STRINGS */
    mn_tensor *t;       /* TENSOR */
} mn_attr;

/* Quantization parameters attached to a value (per tensor or per axis). */
typedef struct mn_quant {
    mn_dtype qtype;     /* I8, U8, I16, ... */
    int axis;           /* -1: per tensor */
    int n;              /* number of scales (1 or dims[axis]) */
    float *scale;
    int32_t *zero_point;
} mn_quant;

typedef struct mn_value {
    char *name;
    mn_dtype dtype;
    int ndim;                     /* -1: unknown rank */
    int64_t dims[MN_MAX_DIMS];    /* -1: unknown/symbolic */
    char *dim_param[MN_MAX_DIMS]; /* symbolic names, may be NULL */
    mn_tensor *init;              /* constant data, owned; NULL if computed */
    mn_quant *quant;              /* optional, owned */
    int producer;                 /* node index or -1 */
    int is_input;                 /* declared graph input (not initializer) */
    int is_output;
} mn_value;

typedef struct mn_node {
    char *name;
    char *op_type;   /* as in the file */
    char *domain;    /* "" for ai.onnx */
    mn_opcode op;    /* MN_OP_UNKNOWN when no op table entry */
    int opset;       /* opset version of the node's domain */
    int n_in, n_out;
    int *in, *out;   /* value indices; in[i] == -1 for an absent input */
    int n_attrs;
    mn_attr *attrs;
} mn_node;

typedef struct mn_meta {
    char *key, *value;
} mn_meta;

struct mn_graph {
    char *name;
    char *source;        /* file path or label used in messages */
    int64_t ir_version;
    int64_t opset;       /* ai.onnx opset */
    char *producer_name, *producer_version;
    int n_values, cap_values;
    mn_value *values;
    int n_nodes, cap_nodes;
    mn_node *nodes;      /* kept in topological order after mn_graph_toposort */
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* value indices; inputs exclude initializers */
    int n_meta;
    mn_meta *meta;
    int64_t file_bytes;  /* size of the file it was loaded from, or 0 */
};

mn_status mn_graph_create(mn_graph **out, mn_ctx *ctx);
/* Adds a value (name copied; must be unique). Returns its index in *idx. */
mn_status mn_graph_add_value(mn_graph *g, const char *name, mn_dtype dt,
                             int ndim, const int64_t *dims, int *idx,
                             mn_ctx *ctx);
int mn_graph_find_value(const mn_graph *g, const char *name); /* -1 if none */
/* Adds a node; copies in/out index arrays; attrs are added afterwards. */
mn_status mn_graph_add_node(mn_graph *g, const char *name, const char *op_type,
                            const char *domain, int opset, const int *in,
                            int n_in, const int *out, int n_out, int *idx,
                            mn_ctx *ctx);
/* Attribute helpers: the added attribute is returned for filling in. */
mn_status mn_node_add_attr(mn_node *n, const char *name, mn_attr_type type,
                           mn_attr **out, mn_ctx *ctx);
mn_status mn_attr_set_ints(mn_attr *a, const int64_t *v, int n, mn_ctx *ctx);
mn_status mn_attr_set_floats(mn_attr *a, const float *v, int n, mn_ctx *ctx);
mn_status mn_attr_set_string(mn_attr *a, const char *s, mn_ctx *ctx);
void mn_attr_clear(mn_attr *a);

/* Attribute lookup (NULL / default when absent). */
const mn_attr *mn_node_attr(const mn_node *n, const char *name);
int64_t mn_node_attr_int(const mn_node *n, const char *name, int64_t dflt);
float mn_node_attr_float(const mn_node *n, const char *name, float dflt);
const char *mn_node_attr_string(const mn_node *n, const char *name,
                                const char *dflt);
/* Returns count (0 when absent) and a borrowed pointer in *v. */
int mn_node_attr_ints(const mn_node *n, const char *name, const int64_t **v);
int mn_node_attr_floats(const mn_node *n, const char *name, const float **v);

/* Sorts nodes topologically; fails on cycles or values without producer
 * that are neither inputs nor constants. Recomputes value.producer. */
mn_status mn_graph_toposort(mn_graph *g, mn_ctx *ctx);
/* Recomputes value.producer / is_input / is_output from the lists. */
void mn_graph_relink(mn_graph *g);
/* Removes nodes whose outputs nobody uses and values nobody references. */
mn_status mn_graph_prune_dead(mn_graph *g, mn_ctx *ctx);
/* Deep copy. */
mn_status mn_graph_clone(const mn_graph *g, mn_graph **out, mn_ctx *ctx);
/* Replaces every use of value `from` by value `to` (node inputs and graph
 * outputs). */
void mn_graph_replace_uses(mn_graph *g, int from, int to);
/* Number of node inputs that read value v (graph outputs count too). */
int mn_graph_use_count(const mn_graph *g, int v);
/* Removes node i (its outputs become producer-less); keeps order. */
void mn_graph_remove_node(mn_graph *g, int i);

/* A name for messages: node name, else "#<index> (<op_type>)". */
const char *mn_node_label(const mn_graph *g, int i, char *buf, size_t len);

#endif
