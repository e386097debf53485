/* check_report.h - --check's work function and report (check_report.c). */
#ifndef PCR_CHECK_REPORT_H
#define PCR_CHECK_REPORT_H

#include <stdio.h>

#include "cli.h"

#define PCR_REPORT_CLASSES 9

typedef struct pcr_report {
    int json;
    FILE *out;
    size_t checked;
    size_t by_class[PCR_REPORT_CLASSES];
} pcr_report;

/* pcr_work_fn for --check; ctx is the pcr_cli. */
pcr_status pcr_cli_check_job(void *ctx, const pcr_job *job,
                             pcr_outcome *outcome, pcr_error *err);

void pcr_report_begin(pcr_report *r, int json, FILE *out);
void pcr_report_job(pcr_report *r, const pcr_cli *cli, const pcr_job *job,
                    pcr_status status, const char *msg);
/* One record: a .pyc (or archive member) and its class. */
void pcr_report_record(pcr_report *r, const char *source, int level,
                       const char *pyc, pcr_check_class cls,
                       const char *detail);
/* Ends the report; returns the exit status (0, 1 or 2). */
int pcr_report_end(pcr_report *r, double seconds);

#endif
