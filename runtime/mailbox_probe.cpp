#include "runtime/mailbox_probe.hpp"

#include <caf/message_view.hpp>
#include <caf/type_erased_tuple.hpp>

namespace klerno::runtime {

void answer_mailbox_probes(caf::scheduled_actor* self) {
  self->set_default_handler(
    [](caf::scheduled_actor* actor, caf::message_view& x) -> caf::result<caf::message> {
      const auto& content = x.content();
      if (content.size() == 1 && content.match_element<caf::atom_value>(0)
          && content.get_as<caf::atom_value>(0) == mailbox_atom::value) {
        return caf::make_message(static_cast<uint64_t>(actor->mailbox().size()));
      }
      return caf::print_and_drop(actor, x);
    });
}

} // namespace klerno::runtime
