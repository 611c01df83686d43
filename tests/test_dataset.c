/* formats/dataset.c: the in-memory dataset, appending, the episode index and the invariants. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* a dataset of episodes with the given lengths; episode e ends terminal when e is even */
static orl_dataset *make(orl_action_kind kind, const int *lengths, int n_eps) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 3, 2, kind, 4), ORL_OK);
    h.has_logp = 1;
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, 2, 1, &ds), ORL_OK);
    orl_header_free(&h);
    orl_dataset *row;
    cr_assert_eq(orl_dataset_create(&ds->h, 1, 1, &row), ORL_OK);
    int k = 0;
    for (int e = 0; e < n_eps; e++)
        for (int t = 0; t < lengths[e]; t++, k++) {
            orl_dataset_clear(row);
            row->n_steps = 1;
            for (int i = 0; i < 3; i++) {
                row->obs[i] = (float)(k * 10 + i);
                row->next_obs[i] = (float)((k + 1) * 10 + i);
            }
            if (row->act) row->act[0] = (float)k, row->act[1] = -(float)k;
            if (row->act_idx) row->act_idx[0] = k % 4;
            row->rew[0] = 1.0f;
            row->logp_b[0] = -0.5f;
            int last = t == lengths[e] - 1;
            row->terminal[0] = (uint8_t)(last && e % 2 == 0);
            row->timeout[0] = (uint8_t)(last && e % 2 == 1);
            cr_assert_eq(orl_dataset_append(ds, row, 0, 1), ORL_OK);
        }
    orl_dataset_free(row);
    return ds;
}

Test(dataset, append_grows_and_indexes) {
    int lengths[] = {3, 1, 5, 2};
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, lengths, 4);
    cr_assert_eq(ds->n_steps, 11);
    cr_assert_eq(ds->n_episodes, 4);
    int64_t off[] = {0, 3, 4, 9, 11};
    for (int e = 0; e <= 4; e++) cr_assert_eq(ds->ep_off[e], off[e]);
    cr_assert_eq(ds->act[2 * 10], 10.0f);
    cr_assert_eq(ds->obs[3 * 10 + 2], 102.0f);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK);
    cr_assert_eq(orl_dataset_open_tail(ds), 0);
    orl_dataset_free(ds);
}

Test(dataset, open_tail_continues_across_appends) {
    int lengths[] = {4};
    orl_dataset *src = make(ORL_ACTION_KIND_DISCRETE, lengths, 1);
    orl_dataset *dst;
    cr_assert_eq(orl_dataset_create(&src->h, 1, 1, &dst), ORL_OK);
    cr_assert_eq(orl_dataset_append(dst, src, 0, 2), ORL_OK);
    cr_assert_eq(dst->n_episodes, 1);
    cr_assert_eq(orl_dataset_open_tail(dst), 1);
    cr_assert_eq(orl_dataset_validate(dst), ORL_ERR_INVALID);
    cr_assert(strstr(orl_error_message(), "neither terminal nor timeout") != NULL);
    cr_assert_eq(orl_dataset_append(dst, src, 2, 2), ORL_OK);
    cr_assert_eq(dst->n_episodes, 1);
    cr_assert_eq(dst->ep_off[1], 4);
    cr_assert_eq(dst->act_idx[3], 3);
    cr_assert_eq(orl_dataset_validate(dst), ORL_OK);
    orl_dataset_free(src);
    orl_dataset_free(dst);
}

Test(dataset, validate_names_first_violation) {
    int lengths[] = {3, 4};
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, lengths, 2);
    ds->next_obs[(3 + 2) * 3 + 1] = NAN;
    cr_assert_eq(orl_dataset_validate(ds), ORL_ERR_INVALID);
    cr_assert_str_eq(orl_error_message(), "episode 1, step 2: next_obs[1] is NaN");
    ds->next_obs[(3 + 2) * 3 + 1] = 0.0f;

    ds->timeout[1] = 1; /* a flag inside episode 0, the index unchanged */
    cr_assert_eq(orl_dataset_validate(ds), ORL_ERR_INVALID);
    cr_assert_str_eq(orl_error_message(),
                     "episode 0, step 1: timeout set before the episode's end");
    ds->timeout[1] = 0;

    ds->timeout[2] = 1; /* terminal and timeout together */
    cr_assert_eq(orl_dataset_validate(ds), ORL_ERR_INVALID);
    cr_assert_str_eq(orl_error_message(), "episode 0, step 2: both terminal and timeout");
    ds->timeout[2] = 0;

    ds->logp_b[4] = NAN;
    cr_assert_eq(orl_dataset_validate(ds), ORL_ERR_INVALID);
    cr_assert(strstr(orl_error_message(), "episode 1, step 1: logp_b is nan") != NULL, "%s",
              orl_error_message());
    ds->h.has_logp = 0; /* unknown probabilities may be NaN */
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK);
    orl_dataset_free(ds);
}

Test(dataset, validate_discrete_range) {
    int lengths[] = {5};
    orl_dataset *ds = make(ORL_ACTION_KIND_DISCRETE, lengths, 1);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK);
    ds->act_idx[2] = 4;
    cr_assert_eq(orl_dataset_validate(ds), ORL_ERR_INVALID);
    cr_assert_str_eq(orl_error_message(), "episode 0, step 2: act_idx 4 outside [0, 4)");
    orl_dataset_free(ds);
}

Test(dataset, streamed_validation_matches_whole) {
    int lengths[] = {3, 4, 2};
    orl_dataset *ds = make(ORL_ACTION_KIND_CONTINUOUS, lengths, 3);
    ds->rew[7] = INFINITY; /* episode 2, step 0 */
    orl_dataset *block;
    cr_assert_eq(orl_dataset_create(&ds->h, 2, 2, &block), ORL_OK);
    orl_validate_cursor c = {0, 0, 0};
    orl_status st = ORL_OK;
    for (int64_t row = 0; row < ds->n_steps && st == ORL_OK; row += 2) {
        orl_dataset_clear(block);
        int64_t n = ds->n_steps - row < 2 ? ds->n_steps - row : 2;
        cr_assert_eq(orl_dataset_append(block, ds, row, n), ORL_OK);
        st = orl_dataset_validate_rows(block, &c);
    }
    cr_assert_eq(st, ORL_ERR_INVALID);
    cr_assert_str_eq(orl_error_message(), "episode 2, step 0: rew is inf");
    orl_dataset_free(block);
    orl_dataset_free(ds);
}

Test(dataset, header_copy_is_deep) {
    orl_header a, b;
    cr_assert_eq(orl_header_init(&a, 2, 3, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    cr_assert(isnan(a.act_high[2]));
    a.act_high[2] = 1.0f;
    snprintf(a.env_id, sizeof a.env_id, "Pendulum-v1");
    cr_assert_eq(orl_header_copy(&b, &a), ORL_OK);
    a.act_high[2] = 5.0f;
    cr_assert_eq(b.act_high[2], 1.0f);
    cr_assert_str_eq(b.env_id, "Pendulum-v1");
    cr_assert_neq(a.obs_low, b.obs_low);
    orl_header_free(&a);
    orl_header_free(&b);
    cr_assert_eq(orl_header_init(&a, 0, 1, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_ERR_INPUT);
}
