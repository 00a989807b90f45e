#ifndef GNOMON_PROTO_H
#define GNOMON_PROTO_H
#endif
