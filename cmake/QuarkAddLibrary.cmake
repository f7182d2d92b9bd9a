# quark_add_library(<name> <sources...>
#                   [LINK_LIBS <project libraries>]
#                   [MLIR_LIBS <upstream MLIR libraries>]
#                   [LINK_COMPONENTS <LLVM components>]
#                   [DEPENDS <targets>])
#
# One static library per leaf folder. Upstream MLIR libraries go through
# mlir_target_link_libraries so that, with MLIR_LINK_MLIR_DYLIB, every binary
# links libMLIR.so once instead of the static archives.
function(quark_add_library name)
  cmake_parse_arguments(ARG "" "" "LINK_LIBS;MLIR_LIBS;DEPENDS;LINK_COMPONENTS" ${ARGN})
  add_mlir_library(${name} ${ARG_UNPARSED_ARGUMENTS}
    EXCLUDE_FROM_LIBMLIR DISABLE_INSTALL
    # Generated dialect headers must exist before any framework source that
    # includes them compiles.
    DEPENDS QuarkDialectIncGen ${ARG_DEPENDS}
    LINK_COMPONENTS ${ARG_LINK_COMPONENTS}
    LINK_LIBS PUBLIC ${ARG_LINK_LIBS})
  if(ARG_MLIR_LIBS)
    mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  endif()
endfunction()
