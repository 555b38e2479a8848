"""ODK support: the shipped XLSForms, OpenRosa documents, and submitted instances as engine changes.

Pure Python (no Flask): the OpenRosa and ODK Central routes call into these modules.

- ``forms`` compiles the XLSForms in ``forms/`` to XForms and describes them;
- ``openrosa`` builds the OpenRosa XML bodies (formList, manifest, OpenRosaResponse);
- ``instances`` parses submitted instance XML safely;
- ``changes`` turns a parsed instance into changes of the sync push.
"""
