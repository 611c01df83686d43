/* orl: everything public. */
#ifndef ORL_H
#define ORL_H

#include "orl/status.h"
#include "orl/version.h"
#include "orl/rng.h"
#include "orl/progress.h"
#include "orl/fs.h"
#include "orl/dataset.h"
#include "orl/ingest.h"
#include "orl/policy.h"
#include "orl/nn.h"
#include "orl/heads.h"
#include "orl/fit.h"
#include "orl/filters.h"
#include "orl/models.h"
#include "orl/dynamics.h"

#include "orl/env.h"
#include "orl/tabular.h"
#include "orl/behavior.h"
#include "orl/eval.h"
#include "orl/mujoco.h"
#include "orl/bps.h"
#include "orl/train.h"
#include "orl/online.h"
#include "orl/ope.h"
#include "orl/fqe.h"
#include "orl/tabular_policy.h"
#include "orl/report.h"
#include "orl/ope_run.h"
#include "orl/bench.h"
#endif
