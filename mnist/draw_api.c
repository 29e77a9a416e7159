/*
 * mnist/draw_api.c — the JSON of `mnist draw` (see draw_api.h): requests parsed with
 * cJSON and checked field by field, so that any body at all gets either an answer or a
 * 400 naming what is wrong; the picture goes through mnist_preprocess, the function
 * `mnist predict` uses, so the page and the command see a drawing the same way.
 */
#include "draw_api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "image.h"

#define PIXELS 784 /* 28 x 28, what mnist_preprocess makes */
#define CLASSES 10

static draw_reply reply_json(int status, cJSON *json)
{
    draw_reply r = {status, json ? cJSON_PrintUnformatted(json) : NULL};
    cJSON_Delete(json);
    return r;
}

draw_reply draw_api_error(int status, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cJSON *json = cJSON_CreateObject();
    if (json && !cJSON_AddStringToObject(json, "error", message))
        cJSON_Delete(json), json = NULL;
    return reply_json(status, json);
}

static cJSON *describe_model(const draw_model *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", m->name) ||
        !cJSON_AddStringToObject(o, "file", m->path) ||
        !cJSON_AddBoolToObject(o, "loaded", m->model != NULL) ||
        (!m->model && !cJSON_AddStringToObject(o, "hint", m->hint)))
        return cJSON_Delete(o), NULL;
    return o;
}

draw_reply draw_api_models(const draw_model *models, int count)
{
    cJSON *json = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(json, "models");
    int ok = list != NULL;
    for (int i = 0; ok && i < count; i++) {
        cJSON *m = describe_model(&models[i]);
        ok = m && cJSON_AddItemToArray(list, m);
        if (!ok)
            cJSON_Delete(m);
    }
    if (!ok) {
        cJSON_Delete(json);
        return draw_api_error(500, "out of memory");
    }
    return reply_json(200, json);
}

/* ---- The request ---------------------------------------------------------------------- */

/* json[name] as an integer in [min, max]; 0, or -1 with a message in err. */
static int integer_field(const cJSON *json, const char *name, int min, int max, int *out,
                         char *err, size_t size)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, name);
    if (!item)
        return snprintf(err, size, "missing field \"%s\"", name), -1;
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!(v >= min && v <= max && v == floor(v)))
        return snprintf(err, size, "\"%s\" must be an integer from %d to %d", name, min, max), -1;
    *out = (int)v;
    return 0;
}

/* The pixels array into image->pixels (already width x height bytes). */
static int read_pixels(const cJSON *json, mnist_image *image, char *err, size_t size)
{
    const cJSON *pixels = cJSON_GetObjectItemCaseSensitive(json, "pixels");
    if (!cJSON_IsArray(pixels))
        return snprintf(err, size, "missing array \"pixels\""), -1;
    size_t want = (size_t)image->width * (size_t)image->height, i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pixels)
    {
        double v = cJSON_IsNumber(p) ? p->valuedouble : NAN;
        if (!(v >= 0 && v <= 255 && v == floor(v)))
            return snprintf(err, size, "pixels[%zu] must be an integer from 0 to 255", i), -1;
        if (i < want)
            image->pixels[i] = (uint8_t)v;
        i++;
    }
    if (i != want)
        return snprintf(err, size, "\"pixels\" has %zu values; width x height is %d x %d = %zu", i,
                        image->width, image->height, want),
               -1;
    return 0;
}

/* body -> image (pixels malloc'd); 0, or -1 with a message for a 400 in err. */
static int parse_picture(const char *body, size_t length, mnist_image *image, char *err,
                         size_t size)
{
    const char *end = NULL; /* where parsing stopped; cJSON_GetErrorPtr is a global */
    cJSON *json = cJSON_ParseWithLengthOpts(body, length, &end, 0);
    if (!json)
        return snprintf(err, size, "malformed JSON at byte %td", end ? end - body : 0), -1;
    int w = 0, h = 0, rc = -1;
    if (!cJSON_IsObject(json))
        snprintf(err, size, "the body must be a JSON object {\"width\", \"height\", \"pixels\"}");
    else if (integer_field(json, "width", 1, DRAW_MAX_SIDE, &w, err, size) == 0 &&
             integer_field(json, "height", 1, DRAW_MAX_SIDE, &h, err, size) == 0) {
        *image = (mnist_image){w, h, malloc((size_t)w * (size_t)h)};
        if (!image->pixels)
            snprintf(err, size, "out of memory");
        else if ((rc = read_pixels(json, image, err, size)) != 0)
            mnist_image_free(image);
    }
    cJSON_Delete(json);
    return rc;
}

/* ---- The answer ----------------------------------------------------------------------- */

static cJSON *preprocessed_image(const float x[PIXELS])
{
    int bytes[PIXELS];
    for (int i = 0; i < PIXELS; i++)
        bytes[i] = (int)lroundf(x[i] * 255.0f);
    return cJSON_CreateIntArray(bytes, PIXELS);
}

/* One model's probabilities for x, under its lock. */
static cJSON *model_answer(draw_model *m, const float x[PIXELS])
{
    float p[CLASSES];
    pthread_mutex_lock(&m->lock);
    nn_status st = nn_model_predict(m->model, x, 1, p);
    pthread_mutex_unlock(&m->lock);
    if (st != NN_OK)
        return NULL;
    int guess = 0;
    for (int k = 1; k < CLASSES; k++)
        guess = p[k] > p[guess] ? k : guess;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "name", m->name) ||
        !cJSON_AddItemToObject(o, "probabilities", cJSON_CreateFloatArray(p, CLASSES)) ||
        !cJSON_AddNumberToObject(o, "guess", guess))
        return cJSON_Delete(o), NULL;
    return o;
}

static draw_reply answer(draw_model *models, int count, const float x[PIXELS])
{
    cJSON *json = cJSON_CreateObject(), *list = NULL;
    if (!json || !cJSON_AddItemToObject(json, "image", preprocessed_image(x)) ||
        !(list = cJSON_AddArrayToObject(json, "models")))
        return cJSON_Delete(json), draw_api_error(500, "out of memory");
    for (int i = 0; i < count; i++) {
        if (!models[i].model)
            continue;
        cJSON *m = model_answer(&models[i], x);
        if (!m || !cJSON_AddItemToArray(list, m))
            return cJSON_Delete(m), cJSON_Delete(json),
                   draw_api_error(500, "%s: %s", models[i].name, nn_last_error());
    }
    return reply_json(200, json);
}

static draw_reply blank_reply(void)
{
    cJSON *json = cJSON_CreateObject();
    if (json && !cJSON_AddTrueToObject(json, "blank"))
        cJSON_Delete(json), json = NULL;
    return json ? reply_json(200, json) : draw_api_error(500, "out of memory");
}

draw_reply draw_api_predict(draw_model *models, int count, const char *body, size_t size)
{
    char err[256];
    mnist_image image;
    if (parse_picture(body, size, &image, err, sizeof err) != 0)
        return draw_api_error(400, "%s", err);
    float x[PIXELS];
    nn_status st = mnist_preprocess(&image, x);
    mnist_image_free(&image);
    if (st == NN_ERR_INVALID_ARGUMENT) /* no ink: nothing drawn yet, not a bad request */
        return blank_reply();
    if (st != NN_OK)
        return draw_api_error(500, "%s", nn_last_error());
    return answer(models, count, x);
}
