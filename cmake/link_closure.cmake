# Link-dependency assertions: the fleet's front doors (sluice proxy, sluice origin) must not sit
# on the media server's libraries. sluice_link_closure walks a target's link graph (static
# libraries carry their PRIVATE dependencies as $<LINK_ONLY:...>); sluice_forbid_links fails
# the configure step when a forbidden library is reachable.

function(_sluice_link_items target out)
  set(items)
  foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(libs ${target} ${prop})
    if(libs)
      foreach(lib ${libs})
        string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
        if(NOT lib MATCHES "^\\$<")  # other generator expressions name no target of ours
          list(APPEND items ${lib})
        endif()
      endforeach()
    endif()
  endforeach()
  set(${out} ${items} PARENT_SCOPE)
endfunction()

function(sluice_link_closure target out)
  set(seen)
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue current)
    if(current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${current})
    if(TARGET ${current})
      get_target_property(aliased ${current} ALIASED_TARGET)
      if(aliased)
        list(APPEND queue ${aliased})
      endif()
      _sluice_link_items(${current} items)
      list(APPEND queue ${items})
    endif()
  endwhile()
  list(REMOVE_ITEM seen ${target})
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(sluice_forbid_links target)
  sluice_link_closure(${target} closure)
  foreach(forbidden ${ARGN})
    if(forbidden IN_LIST closure)
      message(FATAL_ERROR "${target} links ${forbidden} (its link closure: ${closure}); "
                          "the fleet's front doors must not depend on the media server")
    endif()
  endforeach()
endfunction()

# Self-check, so the assertion itself can be seen to fail: a library that reaches a forbidden
# one through a PRIVATE dependency of a static library in between must be caught.
function(sluice_check_link_closure_walker)
  add_library(_sluice_probe_leaf INTERFACE)
  add_library(_sluice_probe_mid STATIC IMPORTED)
  set_target_properties(_sluice_probe_mid PROPERTIES
                        INTERFACE_LINK_LIBRARIES "$<LINK_ONLY:_sluice_probe_leaf>")
  add_library(_sluice_probe_top INTERFACE)
  target_link_libraries(_sluice_probe_top INTERFACE _sluice_probe_mid)
  sluice_link_closure(_sluice_probe_top closure)
  if(NOT _sluice_probe_leaf IN_LIST closure)
    message(FATAL_ERROR "link closure walker missed a private dependency: ${closure}")
  endif()
endfunction()
