"""Invented people acting in the tests, one per role."""

from core.permissions import Actor

LECTOR = Actor("lectora", "lector", "Lectora de Pruebas")
EDITOR = Actor("editor", "editor", "Editor de Pruebas")
OTHER_EDITOR = Actor("otra.editora", "editor", "Otra Editora")
ADMIN = Actor("admin", "administrador", "Administradora de Pruebas")
