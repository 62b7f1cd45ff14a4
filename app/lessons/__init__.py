"""Lessons: guided steps through the ideas of model parameters, written as YAML files (docs/lessons.md).

`format` holds the models, `conditions` the little language a step notices an
action with, `loader` reads a file with errors naming its line and field, and
`library` holds the built-in lessons and the uploaded ones. No transport here:
the routes are `app.server.lessons_api`.
"""
