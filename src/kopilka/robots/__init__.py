"""Robots and business-process activities (issue 17, item 6): Kopilka's actions offered to
Bitrix24's automation — registered in a portal (``registration``), called by its queue server
(``endpoints``: ``POST /b24/robot``), done and answered by a job (``tasks``, ``service``,
``actions``), recorded in ``b24_robot_calls`` (``queries``). See docs/bitrix24.md, "Robots and
activities"."""
