"""The Ray fleet: instances as placement groups, copies as actors (docs/ray.md).

:mod:`.fleet` implements the fleet seam; :mod:`.cluster` joins the cluster
and finds what a previous server left there; :mod:`.instances` sizes and
places instances; :mod:`.actor` runs a copy on its node behind the
:mod:`.gateway`; :mod:`.shipping` carries local artifacts to the nodes.
Ray itself is imported only once ``moorage serve --fleet ray`` connects.
"""
